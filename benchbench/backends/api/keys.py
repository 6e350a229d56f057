"""The suite keys of an api model (its ``api:`` mapping) and their ApiSpec. Imports no HTTP
client: suites are validated without it."""

from __future__ import annotations

from typing import Any

from benchbench.backends.entry import SuitePlace
from benchbench.schema import check_mapping, key
from benchbench.spec import ApiSpec

SERVED_KEYS = {
    "api": key(dict, required=True, help="a model behind an OpenAI-compatible endpoint: {base_url: ..., model: ...} "
                                         "(docs/api-models.md)"),
}
API_SCHEMA = {
    "base_url": key(str, required=True, help="the server's OpenAI-compatible root, e.g. http://127.0.0.1:8000/v1"),
    "model": key(str, required=True, help="the model name the server knows"),
    "endpoint": key(str, "completions", choices=("completions", "chat"),
                    help="completions: the prompt as text; chat: the prompt as a user message (the server "
                         "applies the chat template)"),
    "api_key_env": key(str, None, help="the environment variable that holds the API key (the key itself never "
                                       "goes in a suite)"),
    "concurrency": key(int, 8, bounds="[1, inf)", help="requests in flight at once"),
    "timeout_s": key(float, 60.0, bounds="(0, inf)", help="seconds a request may take (and a stream may stall)"),
    "max_retries": key(int, 4, bounds="[0, inf)",
                       help="retries of a request after a 408/409/429/5xx, a timeout or a dropped connection"),
    "price_per_million_tokens": key(dict, None, help="{input: ..., output: ...}: the price of a million prompt "
                                                     "and generated tokens, for cost figures"),
    "max_failed_fraction": key(float, 0.0, bounds="[0, 1]",
                               help="share of a task's examples whose requests may fail (after retries) and the "
                                    "result still count as ok, over the others"),
    "extra_body": key(dict, dict, help="server-specific fields added to every request, e.g. {min_tokens: 32} "
                                       "for vLLM"),
}
PRICE_SCHEMA = {
    "input": key(float, required=True, bounds="[0, inf)", help="price of a million prompt tokens"),
    "output": key(float, required=True, bounds="[0, inf)", help="price of a million generated tokens"),
}


def served_spec(values: dict[str, Any], place: SuitePlace) -> ApiSpec:
    path = f"{place.path}.api"
    api = check_mapping(values["api"], API_SCHEMA, place.file, path)
    if not api["base_url"].startswith(("http://", "https://")):
        raise place.error("api.base_url", f"{api['base_url']!r} is not an http(s) URL",
                          "write e.g. http://127.0.0.1:8000/v1 (the root the server's /completions lives under)")
    api["base_url"] = api["base_url"].rstrip("/")
    price = api.pop("price_per_million_tokens")
    if price is not None:
        price = check_mapping(price, PRICE_SCHEMA, place.file, f"{path}.price_per_million_tokens")
    return ApiSpec(**api, price_input=price and price["input"], price_output=price and price["output"])
