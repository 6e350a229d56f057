"""Suite files: YAML -> validated dataclasses.

A suite names the models to compare, the tasks to run on each, and runtime settings.
Every problem is reported as one :class:`SuiteError` naming the file, the key and the
fix. Relative paths resolve against the suite file's folder, so a suite can be run from
anywhere. See docs/suites.md for the reference.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from benchbench.backends.entry import SuitePlace
from benchbench.backends.registry import BACKENDS, PluginBroken, backend_entry, backend_names
from benchbench.bounded_yaml import read_yaml
from benchbench.data import HEADER_FORMATS, file_columns, first_row, looks_like_data
from benchbench.errors import SuiteError, shown
from benchbench.metrics import CATALOGUE, EVALUATE_PREFIX, METRICS
from benchbench.paths import local_path
from benchbench.schema import Key, check_mapping, did_you_mean, key
from benchbench.spec import DTYPES, DatasetSpec, ModelSpec, RaceSpec, Runtime, Suite, TaskSpec
from benchbench.tasks import TASK_TYPES

log = logging.getLogger("benchbench")
DEVICES = ("auto", "cpu", "cuda")
ISOLATION = ("process", "none")
EXECUTORS = ("local", "ray")
LOCAL_FORMATS = ("json", "jsonl", "csv", "tsv", "parquet", "text")
FILE_SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv",
                 ".parquet": "parquet", ".txt": "text", ".raw": "text"}

TOP_SCHEMA = {
    "name": key(str, required=True, help="a short name for the suite"),
    "description": key(str, ""),
    "runtime": key(dict, dict),
    "models": key(list, required=True, help="a list of models, each with 'name' and 'source'"),
    "tasks": key(list, required=True, help="a list of tasks, each with 'name', 'type', 'dataset'"),
}
_RUNTIME = Runtime()  # the defaults, in one place
RUNTIME_SCHEMA = {
    "device": key(str, _RUNTIME.device, choices=DEVICES),
    "dtype": key(str, _RUNTIME.dtype, choices=DTYPES, help="default dtype for models that set none"),
    "batch_size": key((int, str), _RUNTIME.batch_size, bounds="[1, inf)", choices=("auto",),
                      help="rows of the longest sequence per forward pass (shorter rows are packed into the same "
                           "token budget), or auto: start high and halve on out-of-memory"),
    "seed": key(int, _RUNTIME.seed, bounds="[0, inf)", help="seed for sampling examples, for generation and for the bootstrap"),
    "bootstrap_resamples": key(int, _RUNTIME.bootstrap_resamples, bounds="[0, inf)",
                               help="resamples for 95% confidence intervals; 0 turns them off"),
    "latency_probe": key((str, bool), _RUNTIME.latency_probe, choices=("auto", True, False),
                         help="fixed-length generation latency probe: true, false, or auto (on for cuda only)"),
    "probe_new_tokens": key(int, _RUNTIME.probe_new_tokens, bounds="[2, inf)", help="tokens the latency probe generates"),
    "probe_repeats": key(int, _RUNTIME.probe_repeats, bounds="[1, inf)",
                         help="timed repeats of the latency probe (after 2 warm-up calls)"),
    "threads": key((int, str), _RUNTIME.threads, bounds="[1, inf)", choices=("auto",),
                   help="threads torch computes with on the CPU; auto: every CPU this process may run on, the same "
                        "whichever executor runs the model, so figures do not depend on it"),
    "no_weights": key(bool, _RUNTIME.no_weights, help="random weights from the config: speed and memory only"),
    "isolation": key(str, _RUNTIME.isolation, choices=ISOLATION,
                     help="process: each model runs in a child process of its own; none: all in this process"),
    "executor": key(str, _RUNTIME.executor, choices=EXECUTORS,
                    help="local: models run on this machine, one at a time; ray: each model in a Ray task on a "
                         "cluster, in parallel (pip install \"benchbench[ray]\"; docs/distributed.md)"),
    "ray_address": key(str, _RUNTIME.ray_address,
                       help="the Ray cluster to join (e.g. 10.0.0.5:6379 or ray://head:10001); default: "
                            "RAY_ADDRESS, else a cluster started on this machine, else a new local one"),
    "gpus_per_model": key((int, float), _RUNTIME.gpus_per_model, bounds="[0, inf)",
                          help="GPUs each model reserves on Ray (fractions share a GPU); default: 1 where the "
                               "cluster has GPUs and the device is not cpu, else 0"),
    "cpus_per_model": key((int, float), _RUNTIME.cpus_per_model, bounds="(0, inf)",
                          help="CPUs each model reserves on Ray"),
    "race": key((bool, dict), None, help="true, or {metric, confidence, rounds}: stop evaluating models that cannot "
                                         "win a task after rounds on growing prefixes of its examples "
                                         "(docs/statistics.md)"),
}
_RACE = RaceSpec()
RACE_SCHEMA = {
    "metric": key(str, _RACE.metric, help="the metric the race is decided on (default: each task's primary metric)"),
    "confidence": key(float, _RACE.confidence, bounds="[0.5, 1)",
                      help="the chance that no model the full run would tie with the winner is stopped"),
    "rounds": key(list, list(_RACE.rounds), help="fractions of each task's examples after which models may stop, "
                                                 "rising, each in (0, 1]; the last is 1"),
    "keep_workers": key((bool, str), _RACE.keep_workers, choices=("auto", True, False),
                        help="keep each model loaded between rounds (true), load it again each round (false), or "
                             "auto: keep, unless the racing models' weights would not fit on the local GPU together"),
    "max_memory_gb": key(float, None, bounds="(0, inf)",
                         help="GPU memory budget: models whose weights alone need more stop before the first round"),
}
MODEL_SCHEMA = {  # the keys of every model; its backend's own keys (backends/registry.py) come beside them
    "name": key(str, required=True, help="display name, unique in the suite"),
    "backend": key(str, None, help="what runs the model: hf (weights loaded here; the default), api (a served model; "
                                   "the default when api: is given) or an installed plugin's (benchbench list)"),
    "task_options": key(dict, dict,
                        help="options per task name or task type, merged over the task's own"),
}
TASK_SCHEMA = {
    "name": key(str, required=True, help="task name, unique in the suite"),
    "type": key(str, required=True),
    "dataset": key(dict, required=True, help="where the examples come from"),
    "metrics": key(list, None, help="metric names; default: the task type's usual metrics"),
    "options": key(dict, dict),
    "metric_options": key(dict, dict, help="per metric name, its options, e.g. {bleu: {tokenize: zh}}"),
    "batch_size": key((int, str), None, bounds="[1, inf)", choices=("auto",),
                      help="overrides runtime.batch_size for this task (a number, or auto)"),
}
DATASET_SCHEMA = {
    "path": key(str, required=True, help="a hub dataset id or a local file/folder"),
    "name": key(str, None, help="hub dataset configuration name"),
    "split": key(str, "test"),
    "revision": key(str, None),
    "format": key(str, "auto", choices=("auto", "hub") + LOCAL_FORMATS),
    "fields": key(dict, dict, help="task field -> dataset column, e.g. {text: sentence}; a list of columns "
                                   "for a field that takes a list, e.g. {reference: [summary1, summary2]}"),
    "column_names": key(list, None, help="a CSV/TSV file without a header row: its columns, in order (the "
                                         "first row is then data)"),
    "limit": key(int, None, bounds="[1, inf)", help="use at most this many examples"),
    "sample": key(str, "first", choices=("first", "random")),
    "seed": key(int, None, bounds="[0, inf)", help="seed for sample: random (default: runtime.seed)"),
}


def bundled_suites() -> dict[str, Path]:
    """The suites that ship with benchbench (package data), by name."""
    folder = Path(__file__).resolve().parent / "suites"
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file, or a bundled suite by name ("quickstart").
    Raises SuiteError with file, key and fix."""
    file = str(path)
    suite_path = Path(path)
    if not suite_path.is_file() and file in bundled_suites():
        suite_path = bundled_suites()[file]
        file = str(suite_path)
    elif not suite_path.is_file():
        raise SuiteError(file, "", "suite file not found",
                         "give the path of a .yaml suite, or the name of a bundled one: "
                         + ", ".join(bundled_suites()))
    return parse_suite(read_yaml(suite_path, file), suite_path)


def parse_suite(raw: Any, suite_path: Path) -> Suite:
    """Validate an already-parsed YAML document (the file path is for messages and paths)."""
    file = str(suite_path)
    base = suite_path.resolve().parent
    top = check_mapping(raw, TOP_SCHEMA, file, "")
    settings = check_mapping(top["runtime"], RUNTIME_SCHEMA, file, "runtime")
    runtime = Runtime(**settings | {"race": _parse_race(settings["race"], file)})
    models = tuple(_parse_model(m, file, f"models[{i}]", base)
                   for i, m in enumerate(top["models"]))
    tasks = tuple(_parse_task(t, file, f"tasks[{i}]", base) for i, t in enumerate(top["tasks"]))
    for label, items in (("models", models), ("tasks", tasks)):
        if not items:
            raise SuiteError(file, label, "the list is empty", f"add at least one entry to {label}")
        names = [item.name for item in items]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SuiteError(file, label, f"duplicate name(s): {', '.join(dupes)}",
                             "give every entry a unique 'name'")
    for i, model in enumerate(models):
        _check_task_options(model, tasks, file, f"models[{i}].task_options")
    return Suite(name=top["name"], description=top["description"], path=file,
                 runtime=runtime, models=models, tasks=tasks)


def _parse_race(value: bool | dict | None, file: str) -> RaceSpec | None:
    """runtime.race: true (the defaults), false or absent (no race), or its settings."""
    if value is None or value is False:
        return None
    if value is True:
        return RaceSpec()
    race = check_mapping(value, RACE_SCHEMA, file, "runtime.race")
    if race["metric"] is not None and race["metric"] not in CATALOGUE:
        raise SuiteError(file, "runtime.race.metric", f"unknown metric {race['metric']!r}",
                         did_you_mean(race["metric"], list(CATALOGUE), "metrics"))
    rounds = race["rounds"]
    if not rounds or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r <= 1 for r in rounds) \
            or list(rounds) != sorted(set(rounds)):
        raise SuiteError(file, "runtime.race.rounds", f"{rounds!r} is not a rising list of fractions in (0, 1]",
                         "e.g. [0.1, 0.25, 0.5, 1.0]: after 10%, 25% and 50% of the examples, models may stop")
    rounds = [float(r) for r in rounds] + ([] if rounds[-1] == 1 else [1.0])
    return RaceSpec(race["metric"], float(race["confidence"]), tuple(rounds), race["max_memory_gb"],
                    race["keep_workers"])


def _parse_model(raw: Any, file: str, path: str, base: Path) -> ModelSpec:
    """A model entry: the keys every model has, and its backend's own, parsed by that backend
    into its typed spec."""
    backend, chosen_by = _backend_of(raw, file, path)
    try:
        entry = backend_entry(backend)
    except PluginBroken as exc:
        raise SuiteError(file, f"{path}.backend", str(exc)) from None
    _reject_other_backends_keys(raw, backend, chosen_by, MODEL_SCHEMA | entry.keys, file, path)
    values = check_mapping(raw, MODEL_SCHEMA | entry.keys, file, path)
    settings = entry.spec({name: values[name] for name in entry.keys}, SuitePlace(file, path, base))
    return ModelSpec(values["name"], backend, settings, values["task_options"])


def _backend_of(raw: Any, file: str, path: str) -> tuple[str, str]:
    """The backend of a model entry and what chose it: its backend: key, else api for an entry
    with api: (as before that key existed), else hf."""
    named = raw.get("backend") if isinstance(raw, dict) else None
    if named is None:
        return ("api", "chosen by its api: key") if isinstance(raw, dict) and "api" in raw else ("hf", "the default")
    check_mapping({"backend": named}, {"backend": MODEL_SCHEMA["backend"]}, file, path)
    if named not in backend_names():
        raise SuiteError(file, f"{path}.backend", f"unknown backend {named!r}",
                         did_you_mean(named, backend_names(), "backends") + " (a plugin's backend is known once its "
                                                                            "package is installed: benchbench list)")
    return named, f"backend: {named}"


def _reject_other_backends_keys(raw: Any, backend: str, chosen_by: str, schema: dict[str, Key], file: str,
                                path: str) -> None:
    """A key of another built-in backend's models says which, rather than 'unknown key'."""
    for name in raw if isinstance(raw, dict) else ():
        owner = next((other for other, entry in BACKENDS.items() if name in entry.keys), None)
        if name not in schema and owner is not None:
            raise SuiteError(file, f"{path}.{name}", f"a key of {owner} models ({BACKENDS[owner].description}), "
                                                     f"not of this model's backend, {backend} ({chosen_by})",
                             f"remove {name} (a model takes the keys of its own backend only)")


def _parse_task(raw: Any, file: str, path: str, base: Path) -> TaskSpec:
    values = check_mapping(raw, TASK_SCHEMA, file, path)
    task_type = TASK_TYPES.get(values["type"])
    if task_type is None:
        raise SuiteError(file, f"{path}.type", f"unknown task type {values['type']!r}",
                         did_you_mean(values["type"], list(TASK_TYPES), "task types"))
    dataset = _parse_dataset(values["dataset"], file, f"{path}.dataset", base, task_type.fields)
    metrics = values["metrics"] or []  # empty: the task type's defaults
    for j, metric in enumerate(metrics):
        if metric not in task_type.metrics and not str(metric).startswith(EVALUATE_PREFIX):
            raise SuiteError(file, f"{path}.metrics[{j}]",
                             f"{metric!r} is not a metric of task type {values['type']!r}",
                             did_you_mean(str(metric), list(task_type.metrics), "metrics")
                             + " (or evaluate:NAME for a Hugging Face evaluate module)")
    options = check_mapping(values["options"], task_type.options, file, f"{path}.options")
    metric_options = {}
    for metric, given in values["metric_options"].items():
        where = f"{path}.metric_options.{metric}"
        if metric not in task_type.metrics:
            raise SuiteError(file, where, f"{metric!r} is not a metric of task type {values['type']!r}",
                             did_you_mean(str(metric), list(task_type.metrics), "metrics"))
        schema = METRICS[metric].options if metric in METRICS else {}
        checked = check_mapping(given, schema, file, where)
        metric_options[metric] = {k: v for k, v in checked.items() if given and k in given}
    return TaskSpec(name=values["name"], type=values["type"], dataset=dataset, metrics=tuple(metrics),
                    options=options, metric_options=metric_options, batch_size=values["batch_size"])


def _parse_dataset(raw: Any, file: str, path: str, base: Path,
                   task_fields: dict[str, Key]) -> DatasetSpec:
    values = check_mapping(raw, DATASET_SCHEMA, file, path)
    for name, column in values["fields"].items():
        where = f"{path}.fields.{name}"
        if name not in task_fields:
            raise SuiteError(file, where, "not a field of this task type",
                             did_you_mean(str(name), list(task_fields), "fields"))
        several = isinstance(column, list) and bool(column) and all(isinstance(c, str) for c in column)
        if several and list not in task_fields[name].types:
            raise SuiteError(file, where, f"field {name!r} holds one value, so it takes one column",
                             f"write e.g. '{name}: {column[0]}'")
        if not isinstance(column, str) and not several:
            raise SuiteError(file, where, "expected a column name (string)" +
                             (", or a list of them" if list in task_fields[name].types else ""),
                             f"write e.g. '{name}: sentence'")
    values["format"], values["path"] = _resolve_dataset_location(values, base, file, path)
    names = values["column_names"]
    if names is not None:
        values["column_names"] = _column_names(names, values["format"], file, f"{path}.column_names")
    dataset = DatasetSpec(**values)
    _check_columns(dataset, task_fields, file, path)
    return dataset


def _column_names(names: list[Any], fmt: str, file: str, path: str) -> tuple[str, ...]:
    if fmt not in HEADER_FORMATS:
        raise SuiteError(file, path, f"a {fmt} dataset names its own columns",
                         f"remove it (column_names is for {' and '.join(HEADER_FORMATS)} files without a header row)")
    if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) < len(names):
        raise SuiteError(file, path, f"{shown(names)} is not a list of distinct column names",
                         "e.g. column_names: [label, title, text], one per column of the file, in order")
    return tuple(names)


def _resolve_dataset_location(values: dict[str, Any], base: Path, file: str,
                              path: str) -> tuple[str, str]:
    """Decide hub vs local file, and make local paths absolute against the suite folder."""
    fmt, location = values["format"], values["path"]
    candidate = local_path(location, base, FILE_SUFFIXES)
    if fmt == "hub" or (fmt == "auto" and candidate is None):
        return "hub", location
    candidate = candidate or (base / location).expanduser()
    if not candidate.exists():
        raise SuiteError(file, f"{path}.path", f"local dataset {str(candidate)!r} does not exist",
                         "paths are relative to the suite file's folder; "
                         "use format: hub for a hub dataset id")
    if fmt == "auto":
        fmt = FILE_SUFFIXES.get(candidate.suffix)
        if fmt is None:
            raise SuiteError(file, f"{path}.format", f"cannot tell the format of {candidate.name!r}",
                             f"set format: to one of {', '.join(LOCAL_FORMATS)}")
    return fmt, str(candidate.resolve())


def _check_task_options(model: ModelSpec, tasks: tuple[TaskSpec, ...], file: str, path: str) -> None:
    targets = {t.name: t.type for t in tasks} | {t.type: t.type for t in tasks}
    for target, options in model.task_options.items():
        if target not in targets:
            raise SuiteError(file, f"{path}.{target}", "names no task or task type in this suite",
                             did_you_mean(str(target), list(targets), "tasks and task types"))
        check_mapping(options, TASK_TYPES[targets[target]].options, file, f"{path}.{target}")


def _check_columns(dataset: DatasetSpec, task_fields: dict[str, Key], file: str, path: str) -> None:
    """A local file's columns against the task's fields (mapped or by name), before anything
    runs: a misspelt column fails here, with a did-you-mean, not in the run. A CSV whose
    header row reads as data is said in a warning (the file may have no header row)."""
    columns = file_columns(dataset)
    if columns is None:
        return
    where = f"{path}.column_names" if dataset.column_names else f"{path}.path"
    if dataset.format in HEADER_FORMATS:
        first = first_row(dataset) or []
        if dataset.column_names and len(first) != len(columns):
            raise SuiteError(file, where, f"names {len(columns)} columns; the file's first row has {len(first)}",
                             "give one name per column, in order")
        if not dataset.column_names and any(looks_like_data(name) for name in columns):
            log.warning("warning: %s: %s: the first row of %s reads as data, not column names (%s); if the file "
                        "has no header row, give its columns in order with column_names: [...], or the first "
                        "example is taken for the header", file, where, Path(dataset.path).name,
                        ", ".join(shown(name) for name in columns[:4]))
    for name, field in task_fields.items():
        mapped = dataset.fields.get(name, name)
        for column in [mapped] if isinstance(mapped, str) else mapped:
            if column in columns or column.split(".")[0] in columns or not (field.required or name in dataset.fields):
                continue
            mapped_here = name in dataset.fields
            raise SuiteError(file, f"{path}.fields.{name}" if mapped_here else f"{path}.fields",
                             f"{Path(dataset.path).name} has no column {column!r} for field {name!r}",
                             did_you_mean(column, columns, "its columns")
                             + ("" if mapped_here else f" (map the field with fields: {{{name}: <column>}})"))
