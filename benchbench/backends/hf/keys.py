"""The suite keys of an hf model (weights loaded here) and their CheckpointSpec. Imports no
torch: suites are validated without it."""

from __future__ import annotations

from typing import Any

from benchbench.backends.entry import SuitePlace
from benchbench.backends.reference import resolve_source_path
from benchbench.schema import key
from benchbench.spec import DTYPES, CheckpointSpec

CHECKPOINT_KEYS = {
    "source": key(str, required=True, help="a hub id (org/name), a local folder, a .gguf file or packaged:NAME "
                                           "(or give api: for a served model)"),
    "revision": key(str, None, help="hub revision (branch, tag or commit)"),
    "dtype": key(str, None, choices=DTYPES),
    "gguf_file": key(str, None, help="file name of the .gguf inside a folder or hub repo"),
    "tokenizer": key(str, None, help="tokenizer source when it differs from the model's"),
    "trust_remote_code": key(bool, False, help="true only for repos whose code you trust"),
    "attn_implementation": key(str, None, help="attention kernel: eager, sdpa, flash_attention_2, ... "
                                                "(default: transformers' choice for the model)"),
}


def checkpoint_spec(values: dict[str, Any], place: SuitePlace) -> CheckpointSpec:
    """Local sources and tokenizers made absolute against the suite's folder (checked to exist)."""
    values = dict(values)
    values["source"] = resolve_source_path(values["source"], place.folder, place.file, f"{place.path}.source")
    if values["tokenizer"]:
        values["tokenizer"] = resolve_source_path(values["tokenizer"], place.folder, place.file,
                                                  f"{place.path}.tokenizer")
    return CheckpointSpec(**values)
