"""Convert a GGUF checkpoint once into a plain transformers folder, and reuse it.

transformers reads .gguf files with the pure-Python `gguf` reader and dequantises the
weights; parsing the metadata of a large-vocabulary file takes ~30 s, and config,
tokenizer and weights each parse it again (Gemma-3-270M: ~140 s per load on 2 cores).
The first load converts (tokenizer + float32 weights, saved with save_pretrained);
later loads read the folder in about a second. Converted weights are the dequantised
GGUF tensors bit for bit (tests compare logits).

Cache location: $BENCHBENCH_CACHE/gguf/<key>, default ~/.cache/benchbench. The key is the
SHA-256 of the file's content and the transformers version: a changed file or library
converts again, and the same file installed in several virtualenvs (a PyPI model package
in each) is converted once, not once per copy (each conversion is the float32 size of
the model: 538 MB for SmolLM2-135M). Hashing reads the whole file (about 0.3 s per
100 MB on 2 cores), so each file's hash is remembered in gguf/hashes.json under its path,
size and modification time, and computed again only when one of those changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from benchbench.backends.hf.auto import build_with_first_auto_class

_COMPLETE = "benchbench-converted"
logger = logging.getLogger(__name__)


def cache_root() -> Path:
    return Path(os.environ.get("BENCHBENCH_CACHE", Path.home() / ".cache" / "benchbench"))


def content_hash(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) in the cache's hashes.json."""
    stat = path.stat()
    identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index_file = cache_root() / "gguf" / "hashes.json"
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError):
        index = {}
    if identity in index:
        return index[identity]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    index[identity] = digest.hexdigest()
    index_file.parent.mkdir(parents=True, exist_ok=True)
    staging = index_file.with_name(f".hashes-{os.getpid()}.json")
    staging.write_text(json.dumps(index, indent=0))
    staging.replace(index_file)  # atomic: a concurrent run loses at most its own entry
    return index[identity]


def _key(gguf_path: Path) -> str:
    import transformers

    text = f"{content_hash(gguf_path)}|transformers {transformers.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def converted_folder(folder: str, gguf_file: str, trust_remote_code: bool = False) -> Path:
    """A transformers folder holding the dequantised GGUF model and its tokenizer."""
    gguf_path = Path(folder) / gguf_file
    target = cache_root() / "gguf" / f"{gguf_path.stem}-{_key(gguf_path)}"
    if (target / _COMPLETE).exists():
        return target
    import transformers

    logger.info("converting %s once to a transformers folder (dequantised to float32) in %s", gguf_file, target)
    started = time.perf_counter()
    kwargs = {"gguf_file": gguf_file, "trust_remote_code": trust_remote_code}
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **kwargs)
    # a causal LM, else an encoder-decoder GGUF (T5)
    model = build_with_first_auto_class(lambda auto: auto.from_pretrained(folder, dtype=torch.float32, **kwargs))
    model.hf_quantizer = None  # weights are dequantised already; save them as plain tensors
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / _COMPLETE).write_text(str(gguf_path.resolve()) + "\n")
        if (target / _COMPLETE).exists():  # another process (a model beside this one on Ray) finished first:
            return target  # it may be loading from it already; this copy is dropped
        if target.exists():  # an interrupted conversion's leftovers
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("converted %s in %.1f s; later runs load the cached folder", gguf_file, time.perf_counter() - started)
    return target
