"""The settings signature: everything that can change a model x task figure.

Two results are comparable (and a finished one reusable) only when their signatures are
equal. The signature covers the model reference, the device and the requested dtype, the
task type, its options as merged for this model, the metrics and their options, the
dataset selection and a fingerprint of the selected examples' content. It is computed
before the model is loaded, so a finished result is reused without loading anything. The batch size is left out on purpose:
benchbench's scores do not depend on it (tests check this).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from benchbench.spec import ModelSpec, TaskSpec


def signature_fields(model: ModelSpec, task: TaskSpec, options: dict[str, Any],
                     data_fingerprint: str, device: str, dtype: str) -> dict[str, Any]:
    chosen_attention = {"attn_implementation": model.attn_implementation} if model.attn_implementation else {}
    return {
        "model": {"source": model.source, "revision": model.revision, "gguf_file": model.gguf_file,
                  "tokenizer": model.tokenizer, "dtype": dtype, "trust_remote_code": model.trust_remote_code,
                  **chosen_attention},  # only when chosen, so results stored before this key keep their signature
        "device": device,
        "task": {"type": task.type, "options": options, "metrics": list(task.metrics),
                 "metric_options": task.metric_options},
        "dataset": {**asdict(task.dataset), "fingerprint": data_fingerprint},
    }


def signature_hash(fields: dict[str, Any]) -> str:
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
