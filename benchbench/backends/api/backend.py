"""The served-model backend: a suite's ``api:`` model as a ModelBackend.

What it can do is found out when it is opened, with small requests that double as the
reachability check: every server generates; a completions endpoint that echoes the
prompt's log-probabilities (``echo`` + ``logprobs``, as vLLM does and as
lm-evaluation-harness's local-completions asks), and whose echoed figure for a token agrees
with the one it gives when generating that token, also scores choices. Perplexity is not
offered (windows need the model's own tokenizer and context length), nor are
classification or QA heads: the backend implements only the Scorer, Generator and
ChatPrompts protocols (capabilities.py), and its Profile gives the reasons the tasks
record in an 'unsupported' result.

Requests run concurrently (``api.concurrency``) and come back one example per batch, as
each finishes, so every answer is stored at once. A request that keeps failing comes back
as RequestFailed; closing the generator (the run stopping a failing task) cancels the
requests not yet sent.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from typing import Any, Callable, Iterator, Sequence

from benchbench.backends.api.client import ApiClient, RequestError
from benchbench.backends.base import (
    CLASSIFY,
    GENERATE,
    LOGLIKELIHOOD,
    ROLLING,
    SPANS,
    Batch,
    Generation,
    GenerationSettings,
    LogLikelihood,
    LoglikelihoodRequest,
    ModelInfo,
    Profile,
    RequestFailed,
    RequestTiming,
    finish_text,
)
from benchbench.errors import ModelUnavailable, TaskConfigError
from benchbench.spec import REMOTE_DEVICE, ApiSpec, ModelSpec, Runtime

PROBE_PROMPT = "The capital of France is"
ECHO_TOLERANCE_NATS = 0.25  # prefill and decode kernels differ a little; a wrong row differs by nats
MAX_STOPS = 4  # the OpenAI API's limit; every stop sequence is still applied to the text here
_NO_HEAD = "a served model has no {} head to load; run the checkpoint locally (source:) for this method"
_NO_ROLLING = ("perplexity needs a model's own tokenizer and context length to cut texts into windows, which an "
               "OpenAI-compatible server does not expose; run the checkpoint locally (source:) for perplexity")


class ApiBackend:
    """A backend over an OpenAI-compatible server (completions or chat endpoint). `device` is
    unused: the server decides where the model runs."""

    def __init__(self, model: ModelSpec, runtime: Runtime, device: str) -> None:
        assert isinstance(model.settings, ApiSpec), model.settings
        name, api = model.name, model.settings
        self.name, self.api = name, api
        self.client = ApiClient(api, runtime.seed)
        started = time.perf_counter()
        self.profile = _profile(self._probe())
        self._info = ModelInfo(
            name=name, source=api.label(), location_kind="api", gguf_file=None,
            loaded_from=api.base_url, revision=None, head="", family="decoder-only", model_type="served",
            architecture=f"served ({api.endpoint} endpoint)", parameters=None, dtype=None, device=REMOTE_DEVICE,
            attention=None, max_length=0, random_weights=False, load_seconds=time.perf_counter() - started,
            load_peak_rss_mib=0.0, shape={}, serving=self._serving())
        self._messages: dict[str, list[dict[str, str]]] = {}  # chat endpoint: rendered prompt -> its messages

    def _serving(self) -> dict[str, Any]:
        api = self.api
        price = None if api.price_input is None else {"input": api.price_input, "output": api.price_output}
        return {"base_url": api.base_url, "model": api.model, "endpoint": api.endpoint,
                "concurrency": api.concurrency, "timeout_s": api.timeout_s, "max_retries": api.max_retries,
                "price_per_million_tokens": price, "max_failed_fraction": api.max_failed_fraction,
                "extra_body": api.extra_body}

    def _probe(self) -> str | None:
        """Why the server's prompt log-probabilities cannot score choices (None: they can).
        Raises ModelUnavailable when the server cannot be reached or refuses the model.

        The completions endpoint is asked for the next token after PROBE_PROMPT with its
        log-probability, then for PROBE_PROMPT + that token echoed: the two figures of the
        same token must agree, or the echoed ones are not used (llama-cpp-python, for one,
        echoes log-probabilities that do not match its own generation)."""
        never = threading.Event()
        try:
            if self.api.endpoint == "chat":
                self.client.with_retries(lambda: self.client.stream_generation(
                    [{"role": "user", "content": "Hello"}], {"max_tokens": 1, "temperature": 0}), never)
                return "the chat endpoint returns no prompt log-probabilities"
            generated, _ = self.client.with_retries(lambda: self.client.next_token_logprobs(PROBE_PROMPT), never)
            top = (getattr(generated, "top_logprobs", None) or [None])[0]
            if not top:
                return "the server returns no log-probabilities (completions with logprobs)"
            token = max(top, key=top.get)
            echoed, _ = self.client.with_retries(lambda: self.client.prompt_logprobs(PROBE_PROMPT + token), never)
        except RequestError as exc:
            raise ModelUnavailable(f"{self.api.base_url} (model {self.api.model!r}) did not answer a 1-token request "
                                   f"after {exc.attempts} attempt(s): {exc.reason}") from None
        return echo_disagreement(top[token], echoed, len(PROBE_PROMPT))

    def load(self, capability: str) -> ModelInfo:
        return dataclasses.replace(self._info, head=capability)

    def chat_prompt(self, user: str, system: str | None) -> str:
        """Chat endpoint: the messages go to the server, which applies the model's chat
        template; the text returned (stored as the example's input) stands for them."""
        if self.api.endpoint != "chat":
            raise TaskConfigError(f"chat_template: the completions endpoint of {self.name!r} takes raw text; set "
                                  f"api.endpoint: chat so the server applies the model's chat template")
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        shown = f"[system] {system}\n[user] {user}" if system else user
        self._messages[shown] = messages
        return shown

    def describe_scoring(self, capability: str) -> dict[str, Any]:
        return {"logprobs_from": "the server's echoed prompt log-probabilities (completions, echo + logprobs)",
                "continuation_tokens": "tokens that end after the context (its trailing spaces moved to the "
                                       "continuation, as lm-evaluation-harness does)"}

    def describe_generation(self) -> dict[str, Any]:
        return {"engine": "OpenAI-compatible server", "endpoint": self.api.endpoint, "streaming": True,
                "greedy_as": "temperature 0", "stop_sequences": f"the first {MAX_STOPS} sent to the server, every "
                                                                 f"one applied to the text here",
                "extra_body": self.api.extra_body}

    # --- requests ---------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> Iterator[Batch[Generation]]:
        params = self._generation_params(settings)
        chat = self.api.endpoint == "chat"
        inputs = [self._messages.get(p, [{"role": "user", "content": p}]) if chat else p for p in prompts]
        calls = [partial(self.client.stream_generation, endpoint_input, params) for endpoint_input in inputs]
        for index, outcome, attempts in self._concurrently(calls):
            if isinstance(outcome, RequestFailed):
                yield [(index, outcome)]
                continue
            timing = RequestTiming(outcome.first_token_seconds, outcome.total_seconds, attempts)
            yield [(index, Generation(finish_text(outcome.text, settings.stop), outcome.prompt_tokens,
                                      outcome.generated_tokens, timing))]

    def _generation_params(self, settings: GenerationSettings) -> dict[str, Any]:
        """The OpenAI request fields for the settings; what the API cannot express is an error."""
        if settings.num_beams > 1:
            raise TaskConfigError("num_beams: beam search is not part of the OpenAI API; use num_beams: 1 for "
                                  "served models")
        if settings.min_new_tokens:
            raise TaskConfigError("min_new_tokens is not part of the OpenAI API; servers that support it take it in "
                                  "api.extra_body (vLLM: min_tokens)")
        params: dict[str, Any] = {"max_tokens": settings.max_new_tokens, "seed": settings.seed,
                                  "stop": settings.stop[:MAX_STOPS] or None}
        if not settings.do_sample:
            return params | {"temperature": 0}
        if settings.top_k is not None:
            raise TaskConfigError("top_k is not part of the OpenAI API; servers that support it take it in "
                                  "api.extra_body")
        return params | {k: v for k, v in (("temperature", settings.temperature), ("top_p", settings.top_p))
                         if v is not None}

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      batch_size: int) -> Iterator[Batch[LogLikelihood]]:
        for index, outcome, _ in self._concurrently([partial(self._score, r) for r in requests]):
            yield [(index, outcome)]

    def _score(self, request: LoglikelihoodRequest) -> LogLikelihood:
        """Sum of the continuation's token log-probabilities, from the echoed prompt."""
        text = request.context + request.continuation
        logprobs = self.client.prompt_logprobs(text)
        return continuation_loglikelihood(list(logprobs.text_offset), list(logprobs.token_logprobs),
                                          len(request.context.rstrip()), len(text))

    def _concurrently(self, calls: list[Callable[[], Any]]) -> Iterator[tuple[int, Any, int]]:
        """(index, result or RequestFailed, attempts) for each call, as they finish, with at most
        `concurrency` in flight. Stopping early cancels the calls not started and tells those
        waiting to retry to give up."""
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=self.api.concurrency, thread_name_prefix=f"api-{self.name}")

        def attempt(call: Callable[[], Any]) -> tuple[Any, int]:
            try:
                return self.client.with_retries(call, stop)
            except RequestError as exc:
                return RequestFailed(exc.reason, exc.attempts), exc.attempts

        try:
            futures = {pool.submit(attempt, call): index for index, call in enumerate(calls)}
            for future in as_completed(futures):
                outcome, attempts = future.result()
                yield futures[future], outcome, attempts
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def is_out_of_memory(self, error: BaseException) -> bool:
        return False

    def free_memory(self) -> None:
        pass

    def close(self) -> None:
        self.client.close()


def continuation_loglikelihood(offsets: list[int], values: list[float | None], context_end: int,
                               text_length: int) -> LogLikelihood:
    """The continuation's log-likelihood from an echoed prompt: the tokens that end after the
    context (its trailing spaces belong to the continuation, as lm-evaluation-harness moves
    them), up to the end of the text (an entry starting there is the generated token)."""
    ends = offsets[1:] + [text_length]
    prompt = [i for i, start in enumerate(offsets) if start < text_length]
    scored = [i for i in prompt if ends[i] > context_end]
    if not scored or scored[0] == 0 or any(values[i] is None for i in scored):
        raise TaskConfigError("the server's echoed tokens leave no scored context before the continuation")
    return LogLikelihood(sum(float(values[i]) for i in scored), len(scored), len(prompt))


def echo_disagreement(generated_logprob: float, echoed: Any, prefix_length: int) -> str | None:
    """Why echoed prompt log-probabilities cannot be trusted, or None. `generated_logprob`:
    the server's log-probability of the token it generated after the probe prompt;
    `echoed`: its echo of the probe prompt with that token appended (text_offset,
    token_logprobs); `prefix_length`: where that token starts."""
    offsets = list(getattr(echoed, "text_offset", None) or [])
    values = list(getattr(echoed, "token_logprobs", None) or [])
    if len(offsets) < 2 or len(values) != len(offsets) or all(v is None for v in values[1:]):
        return "the server returns no prompt log-probabilities (completions with echo and logprobs)"
    at_token = [v for start, v in zip(offsets, values) if start == prefix_length and v is not None]
    if not at_token:
        return "the server's echoed tokens do not start where the probe's generated token does"
    if abs(at_token[0] - generated_logprob) > ECHO_TOLERANCE_NATS:
        return (f"the server's echoed log-probability of a token ({at_token[0]:.3f}) disagrees with the one it gives "
                f"when generating that token ({generated_logprob:.3f}), so its prompt log-probabilities are not used")
    return None


def _profile(why_not_scored: str | None) -> Profile:
    """What a server can do: every one generates; one whose prompt log-probabilities passed the
    probe also scores choices."""
    capabilities = frozenset({GENERATE} if why_not_scored else {GENERATE, LOGLIKELIHOOD})
    why_not = {ROLLING: _NO_ROLLING, CLASSIFY: _NO_HEAD.format("classification"),
               SPANS: _NO_HEAD.format("question-answering")}
    if why_not_scored:
        why_not[LOGLIKELIHOOD] = why_not_scored
    return Profile("decoder-only", capabilities, capabilities, why_not)
