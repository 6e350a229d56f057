"""The suite's dataclasses: what a validated suite says, and nothing else.

A leaf module: everything may import it, and it imports no other part of benchbench but
the errors, the schema helpers and the path rule. suite.py builds these from YAML; the run layer,
backends and tasks read them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from benchbench.errors import SuiteError
from benchbench.paths import portable
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
    # keep each model's worker (and its loaded model) between rounds: true, false (a new worker per
    # round), or auto: keep, except on a local GPU the racing models' weights would not fit together
    keep_workers: bool | str = "auto"


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
    threads: int | str = "auto"  # torch's CPU threads: auto = the CPUs this process may run on (measure/threads.py)
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

    remote: ClassVar[bool] = True

    def label(self) -> str:
        return f"api:{self.model}@{self.base_url}"

    def identity(self, dtype: str, suite_folder: Path | None) -> dict[str, Any]:
        """What names the model and can change its answers (no key, no concurrency, timeouts or
        prices, which change cost and speed but not a figure); the server decides the dtype."""
        return {"api": {"base_url": self.base_url, "model": self.model, "endpoint": self.endpoint,
                        "extra_body": self.extra_body}}


class ModelSettings(Protocol):
    """A backend's typed spec of one suite model (CheckpointSpec for hf, ApiSpec for api, a
    plugin's own): a frozen dataclass, so it travels to workers. backends/registry.py says
    which backend parses which keys into which spec."""

    remote: ClassVar[bool]  # the model runs on a server: device "remote", no local memory to estimate

    def label(self) -> str:
        """Where the model comes from, as messages name it ("org/name", "api:MODEL@URL")."""

    def identity(self, dtype: str, suite_folder: Path | None) -> dict[str, Any]:
        """What names the model and can change its answers: its part of the settings signature
        (`dtype`: the runtime's where the model sets none; `suite_folder`: local paths are
        recorded relative to it, so a moved checkout reuses its results)."""


@dataclass(frozen=True)
class CheckpointSpec:
    """The hf backend's spec: weights loaded here, from a hub id, a local folder, a .gguf file
    or packaged:NAME."""

    source: str
    revision: str | None = None
    dtype: str | None = None
    gguf_file: str | None = None
    tokenizer: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    remote: ClassVar[bool] = False

    def label(self) -> str:
        return self.source

    def identity(self, dtype: str, suite_folder: Path | None) -> dict[str, Any]:
        # attn_implementation only when chosen, so results stored before that key keep their signature
        chosen_attention = {"attn_implementation": self.attn_implementation} if self.attn_implementation else {}
        return {"source": portable(self.source, suite_folder), "revision": self.revision, "gguf_file": self.gguf_file,
                "tokenizer": portable(self.tokenizer, suite_folder), "dtype": dtype,
                "trust_remote_code": self.trust_remote_code, **chosen_attention}


@dataclass(frozen=True)
class ModelSpec:
    """A suite model: its name, the backend that runs it (backends/registry.py) and that
    backend's typed spec of it."""

    name: str
    backend: str  # a registry name: "hf", "api", or an installed plugin's
    settings: ModelSettings
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """Where the model comes from, for messages (a served model: "api:MODEL@BASE_URL")."""
        return self.settings.label()

    @property
    def remote(self) -> bool:
        """Whether the model runs on a server, not on this machine."""
        return self.settings.remote

    # The fields of the built-in specs that code outside the backends reads (the plan's dtype,
    # the Ray executor's GPU reservation and paths): None for a model of another backend.
    @property
    def api(self) -> ApiSpec | None:
        return self.settings if isinstance(self.settings, ApiSpec) else None

    @property
    def dtype(self) -> str | None:
        """The model's own dtype (None: the runtime's)."""
        return self.settings.dtype if isinstance(self.settings, CheckpointSpec) else None

    @property
    def tokenizer(self) -> str | None:
        return self.settings.tokenizer if isinstance(self.settings, CheckpointSpec) else None

    def without_own_dtype(self) -> "ModelSpec":
        """This model with its own dtype dropped, so a dtype given for the whole run applies."""
        if self.dtype is None:
            return self
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, dtype=None))

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
            chosen_models = tuple(m.without_own_dtype() for m in chosen_models)
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
