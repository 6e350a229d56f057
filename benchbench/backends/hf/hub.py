"""Whether a hub id can be read at all, told in a second.

The hub client retries a connection that fails (DNS, a refused or filtered port) for about
half a minute before it gives up. A model that is in the local hub cache needs no network,
and one that is not cannot be read without it: so a hub id is first looked up in the cache,
and when it is not there, one short connection to the hub's endpoint says whether waiting
could help. Behind a proxy the client is left to try, since a direct connection proves nothing.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

PROBE_SECONDS = 3.0
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def hub_unreachable() -> str | None:
    """Why the hub cannot be reached from here (offline mode, no route, no name), or None
    when it may be."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        return f"{constants.ENDPOINT} cannot be reached ({exc.strerror or type(exc).__name__})"
    return None
