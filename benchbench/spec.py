"""The suite's dataclasses: what a validated suite says, and nothing else.

A leaf module: everything may import it, and it imports no other part of benchbench but
the errors and the schema helpers. suite.py builds these from YAML; the run layer,
backends and tasks read them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from benchbench.errors import SuiteError
from benchbench.schema import did_you_mean

DEFAULT_SEED = 1234  # runtime.seed: example sampling, generation sampling, bootstrap resamples
DTYPES = ("auto", "float32", "float16", "bfloat16")
REMOTE_DEVICE = "remote"  # the device of a served model (api:): it runs on the server, not on this machine
BatchSize = int | str  # a number of rows, or "auto" (worker.py: start high, halve on out-of-memory)


@dataclass(frozen=True)
class RaceSpec:
    """runtime.race: every model is scored on a growing prefix of each task's examples (in one
    seeded order), and after each round the models that cannot win the task stop (run/race.py)."""

    metric: str | None = None  # None: each task type's primary metric
    confidence: float = 0.95
    rounds: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)  # fractions of each task's examples, rising to 1
    max_memory_gb: float | None = None  # models whose weights alone need more stop before round 1


@dataclass(frozen=True)
class Runtime:
    device: str = "auto"
    dtype: str = "auto"
    batch_size: BatchSize = 8
    seed: int = DEFAULT_SEED
    bootstrap_resamples: int = 1000
    latency_probe: str | bool = "auto"
    probe_new_tokens: int = 32
    probe_repeats: int = 5
    no_weights: bool = False
    isolation: str = "process"
    executor: str = "local"  # where model jobs run: local (isolation says how) or ray (run/executors/on_ray.py)
    ray_address: str | None = None  # None: RAY_ADDRESS, else a cluster started on this machine, else a new local one
    gpus_per_model: float | None = None  # Ray: None = 1 where the cluster has GPUs and the device is not cpu, else 0
    cpus_per_model: float = 1.0  # Ray: CPUs each model's worker reserves
    race: RaceSpec | None = None  # None: every model runs every example


@dataclass(frozen=True)
class ApiSpec:
    """A model behind an OpenAI-compatible endpoint (backends/api/). The key itself is never
    held here, only the name of the environment variable that holds it."""

    base_url: str
    model: str
    endpoint: str = "completions"  # or "chat"
    api_key_env: str | None = None
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 4
    price_input: float | None = None  # per million prompt tokens
    price_output: float | None = None  # per million generated tokens
    max_failed_fraction: float = 0.0  # examples whose requests may fail for the result to stay ok
    extra_body: dict[str, Any] = field(default_factory=dict)  # server-specific request fields

    def identity(self) -> dict[str, Any]:
        """What names the model and can change its answers: the signature's part (no key, no
        concurrency, timeouts or prices, which change cost and speed but not a figure)."""
        return {"base_url": self.base_url, "model": self.model, "endpoint": self.endpoint,
                "extra_body": self.extra_body}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str  # for a served model: "api:MODEL@BASE_URL", for messages
    revision: str | None = None
    dtype: str | None = None
    gguf_file: str | None = None
    tokenizer: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    api: ApiSpec | None = None

    def options_for(self, task: "TaskSpec") -> dict[str, Any]:
        """Task options with this model's overrides (by task type, then task name) merged in."""
        merged = dict(task.options)
        merged.update(self.task_options.get(task.type, {}))
        merged.update(self.task_options.get(task.name, {}))
        return merged


@dataclass(frozen=True)
class DatasetSpec:
    path: str
    format: str = "auto"
    name: str | None = None
    split: str = "test"
    revision: str | None = None
    fields: dict[str, str | list[str]] = field(default_factory=dict)  # a list: several columns give one field
    limit: int | None = None
    sample: str = "first"
    seed: int | None = None
    column_names: tuple[str, ...] | None = None  # a CSV/TSV without a header row: its columns, in order


@dataclass(frozen=True)
class TaskSpec:
    name: str
    type: str
    dataset: DatasetSpec
    metrics: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_size: BatchSize | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    runtime: Runtime
    models: tuple[ModelSpec, ...]
    tasks: tuple[TaskSpec, ...]
    description: str = ""

    def select(self, models: list[str] | None = None, tasks: list[str] | None = None,
               limit: int | None = None, batch_size: BatchSize | None = None, dtype: str | None = None,
               **runtime: Any) -> "Suite":
        """The suite restricted/overridden by command-line choices (names are checked). A batch
        size or dtype given here overrides the suite's everywhere, per task and per model too;
        `runtime` overrides those Runtime fields whose value is not None or False."""
        chosen_models = _pick(self.models, models, self.path, "--models", "models in the suite")
        chosen_tasks = _pick(self.tasks, tasks, self.path, "--tasks", "tasks in the suite")
        if limit is not None:
            chosen_tasks = tuple(
                dataclasses.replace(t, dataset=dataclasses.replace(
                    t.dataset, limit=min(limit, t.dataset.limit or limit)))
                for t in chosen_tasks)
        overrides = {name: value for name, value in runtime.items() if value is not None and value is not False}
        if overrides.get("ray_address"):  # a cluster to join says where the models run
            if overrides.setdefault("executor", "ray") != "ray":
                raise SuiteError(self.path, "--address", f"names a Ray cluster, but --executor "
                                                         f"{overrides['executor']} runs the models here",
                                 "drop one of them (--address implies --executor ray)")
        if batch_size:
            overrides["batch_size"] = batch_size
            chosen_tasks = tuple(dataclasses.replace(t, batch_size=None) for t in chosen_tasks)
        if dtype:
            overrides["dtype"] = dtype
            chosen_models = tuple(dataclasses.replace(m, dtype=None) for m in chosen_models)
        return dataclasses.replace(self, models=chosen_models, tasks=chosen_tasks,
                                   runtime=dataclasses.replace(self.runtime, **overrides))


def _pick(items: tuple, names: list[str] | None, file: str, flag: str, what: str) -> tuple:
    """The items named (None: all of them; an empty selection is refused, not read as all)."""
    if names is None:
        return items
    if not names:
        raise SuiteError(file, flag, "selects nothing", "name at least one, or leave it out to run all")
    known = [item.name for item in items]
    for name in names:
        if name not in known:
            raise SuiteError(file, flag, f"no entry named {name!r}", did_you_mean(name, known, what))
    return tuple(item for item in items if item.name in names)
