"""When to retry a request to a server, and how long to wait first.

Retried: rate limits and overload (408, 409, 429, 5xx), timeouts, dropped connections and
streams that end early. Not retried: requests the server refuses for good (400, 401, 403,
404, 422), which would fail the same way again. The wait honours the server's
Retry-After (or Retry-After-Ms) header; without one it is exponential backoff with full
jitter (a uniform draw between 0 and base * 2^(attempt-1), capped), so clients that failed
together do not come back together.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

RETRY_STATUSES = frozenset({408, 409, 429})  # and every 5xx
BASE_SECONDS = 0.5
CAP_SECONDS = 20.0
LONGEST_RETRY_AFTER = 120.0  # a server asking for longer is treated as asking for this


def retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def retry_after_seconds(headers: Mapping[str, str] | None, now: datetime | None = None) -> float | None:
    """The wait a server asks for: Retry-After-Ms, or Retry-After in seconds or as an HTTP date."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        value = lowered.get("retry-after")
        if value is None:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return float(value)
        when = parsedate_to_datetime(value)
        return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
    except (TypeError, ValueError):
        return None


def backoff_seconds(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """How long to wait after failed attempt number `attempt` (1 = the first try)."""
    if retry_after is not None:
        return min(retry_after, LONGEST_RETRY_AFTER)
    return rng.uniform(0.0, min(CAP_SECONDS, BASE_SECONDS * 2 ** (attempt - 1)))
