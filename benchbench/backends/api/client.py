"""One request to an OpenAI-compatible server, with its retries and its timing.

The `openai` client does the HTTP (its own retries are off: ours count attempts, honour
Retry-After and also cover a stream that breaks off half-way). The API key is read from
the environment variable the suite names, handed to the client and kept nowhere else:
it is never part of a message, a record or an exception text benchbench writes.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from benchbench.backends.api.retry import backoff_seconds, retry_after_seconds, retryable_status
from benchbench.errors import ModelUnavailable, first_line, readable
from benchbench.spec import ApiSpec

T = TypeVar("T")
NO_KEY = "no-key"  # sent when the suite names no key variable (local servers ignore it)


class RequestError(Exception):
    """A request that failed for good (not retryable, or out of retries)."""

    def __init__(self, reason: str, attempts: int, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.attempts, self.status = reason, attempts, status


class StreamBrokeOff(Exception):
    """The response stream ended without saying it was finished (the server went away)."""


@dataclass(frozen=True)
class Streamed:
    """A streamed generation as it arrived."""

    text: str
    prompt_tokens: int | None  # from the server's usage fields (None: it sent none)
    generated_tokens: int | None
    first_token_seconds: float | None
    total_seconds: float


def read_api_key(api: ApiSpec) -> str:
    """The key from the environment variable the suite names. Raises ModelUnavailable when
    that variable is not set (the message names the variable, never a value)."""
    if api.api_key_env is None:
        return NO_KEY
    key = os.environ.get(api.api_key_env)
    if not key:
        raise ModelUnavailable(f"api.api_key_env names the environment variable {api.api_key_env}, which is not set "
                               f"or empty; export {api.api_key_env}=... before the run")
    return key


def server_said(body: Any) -> str | None:
    """What an error body says, in one line: OpenAI's {"error": {"message": ...}} (or the inner
    mapping the client keeps), FastAPI's {"detail": ...}, a plain text, else the body as JSON."""
    if body is None or body == "":
        return None
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if body.get(key):
                return server_said(body[key])
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return " ".join(text.split())


def _refused(exc: BaseException) -> bool:
    """Whether a connection error comes from a refused connection (the port is closed)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "connection refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ApiClient:
    """Requests to one server and model, retried by retry.py's policy."""

    def __init__(self, api: ApiSpec, seed: int = 0) -> None:
        try:
            import openai
        except ImportError:
            raise ModelUnavailable('served models need the openai client: pip install "benchbench[api]"') from None
        self.api, self._openai = api, openai
        self._client = openai.OpenAI(base_url=api.base_url, api_key=read_api_key(api), max_retries=0,
                                     timeout=api.timeout_s)
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def with_retries(self, call: Callable[[], T], stop: threading.Event) -> tuple[T, int]:
        """`call`'s result and the attempts it took. Raises RequestError when it fails for
        good, or when `stop` is set (the run no longer wants the answer)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return call(), attempt
            except Exception as exc:
                status, retry = self._classify(exc)
                if status is None and not retry:
                    raise  # not a request failure: a bug, which must surface
                reason = self.describe(exc)
                if not retry or attempt > self.api.max_retries or stop.is_set():
                    raise RequestError(reason, attempt, status) from None
                headers = getattr(getattr(exc, "response", None), "headers", None)
                with self._rng_lock:
                    wait = backoff_seconds(attempt, retry_after_seconds(headers), self._rng)
                if stop.wait(wait):
                    raise RequestError(reason, attempt, status) from None

    def _classify(self, exc: Exception) -> tuple[int | None, bool]:
        """(HTTP status or None, whether to retry); (None, False) for what is not a request failure."""
        openai = self._openai
        if isinstance(exc, openai.APIStatusError):
            return exc.status_code, retryable_status(exc.status_code)
        if isinstance(exc, (openai.APIError, StreamBrokeOff)):  # timeouts, connections, a stream's error event
            return 0, True
        if type(exc).__module__.split(".")[0].startswith(("httpx", "httpcore")):  # a read that broke mid-stream
            return 0, True
        return None, False

    def describe(self, exc: Exception) -> str:
        """A one-line reason without secrets (the client's messages carry no key): the server's
        own words where it gave any (the openai client's message is only "Error code: 400")."""
        status = getattr(exc, "status_code", None)
        if isinstance(exc, self._openai.APIConnectionError) and _refused(exc):
            return (f"connection refused: nothing listens at {self.api.base_url} (is the server running, on that "
                    f"host and port?)")
        text = first_line(exc)
        said = server_said(getattr(exc, "body", None))  # a JSON error's message, or an error event's own text
        if said and said not in text:
            text = f"{text}: {said}"
        text = readable(text, 300)
        return f"HTTP {status}: {text}" if status else f"{type(exc).__name__}: {text}"

    def stream_generation(self, endpoint_input: str | list[dict[str, str]], params: dict[str, Any]) -> Streamed:
        """One streamed generation (a prompt for completions, messages for chat), timed from
        sending the request to its first generated text and to its end."""
        chat = self.api.endpoint == "chat"
        started = time.perf_counter()
        request = dict(model=self.api.model, stream=True, stream_options={"include_usage": True},
                       extra_body=self.api.extra_body or None, **params)
        stream = (self._client.chat.completions.create(messages=endpoint_input, **request) if chat
                  else self._client.completions.create(prompt=endpoint_input, **request))
        parts: list[str] = []
        first: float | None = None
        usage, finished = None, False
        with stream:
            for chunk in stream:
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    text = (choice.delta.content if chat else choice.text) or ""
                    if text and first is None:
                        first = time.perf_counter() - started
                    parts.append(text)
                    finished = finished or choice.finish_reason is not None
        if not finished:
            raise StreamBrokeOff("the response stream ended before the server finished it")
        return Streamed("".join(parts), getattr(usage, "prompt_tokens", None),
                        getattr(usage, "completion_tokens", None), first, time.perf_counter() - started)

    def next_token_logprobs(self, prompt: str, top: int = 5) -> Any:
        """The legacy completions logprobs object of the one greedy token after `prompt` (with
        the `top` most likely tokens), or None when the server returns none."""
        response = self._client.completions.create(model=self.api.model, prompt=prompt, max_tokens=1, temperature=0,
                                                   logprobs=top, extra_body=self.api.extra_body or None)
        return response.choices[0].logprobs if response.choices else None

    def prompt_logprobs(self, text: str) -> Any:
        """The legacy completions logprobs object of `text` echoed back (tokens, token_logprobs,
        text_offset), or None when the server returns none."""
        response = self._client.completions.create(model=self.api.model, prompt=text, max_tokens=1, temperature=0,
                                                   echo=True, logprobs=1, extra_body=self.api.extra_body or None)
        return response.choices[0].logprobs if response.choices else None

    def close(self) -> None:
        self._client.close()
