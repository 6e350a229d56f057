"""The settings signature: everything that can change a model x task figure.

Two results are comparable (and a finished one reusable) only when their signatures are
equal. The signature covers the model reference, the device and the requested dtype, the
task type, its options as merged for this model, the metrics and their options, the
dataset selection and a fingerprint of the selected examples' content. It is computed
before the model is loaded, so a finished result is reused without loading anything. The
batch size is left out on purpose: benchbench's scores do not depend on it (tests check
this).

No absolute path enters it, so a copy of a checkout (or a results folder moved to another
machine) reuses every result: a local model or tokenizer is named relative to the suite's
folder, and a local dataset by the fingerprint of its content alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchbench.spec import REMOTE_DEVICE, ModelSpec, TaskSpec

# Options (and dataset keys) added after results were stored, at the value that reproduces the old
# behaviour: left out of the signature at that value, so the results stored before them are still reused.
_NEUTRAL_LATER_OPTIONS = {"min_new_tokens": None}
_NEUTRAL_LATER_DATASET_KEYS = {"column_names": None}


def signature_fields(model: ModelSpec, task: TaskSpec, options: dict[str, Any], data_fingerprint: str,
                     device: str, dtype: str, suite_folder: Path | None = None) -> dict[str, Any]:
    dataset = {k: v for k, v in asdict(task.dataset).items()
               if k not in _NEUTRAL_LATER_DATASET_KEYS or v != _NEUTRAL_LATER_DATASET_KEYS[k]}
    if dataset["format"] != "hub":
        del dataset["path"]  # the content fingerprint stands for the file, wherever it lies
    identity = model.settings.identity(dtype, suite_folder)  # the model's backend says what names it
    if model.remote:  # a served model: the server decides the device
        device = REMOTE_DEVICE
    return {
        "model": identity,
        "device": device,
        "task": {"type": task.type,
                 "options": {k: v for k, v in options.items()
                             if k not in _NEUTRAL_LATER_OPTIONS or v != _NEUTRAL_LATER_OPTIONS[k]}, "metrics": list(task.metrics),
                 "metric_options": task.metric_options},
        "dataset": {**dataset, "fingerprint": data_fingerprint},
    }


def signature_hash(fields: dict[str, Any]) -> str:
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
