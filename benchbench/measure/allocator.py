"""How this process's C allocator treats freed memory, for models run on the CPU (glibc only).

By default glibc serves large blocks (above a threshold that grows to at most 32 MiB) with
``mmap`` and hands them back to the system when they are freed. A forward pass on the CPU
allocates and frees the same large activations in every layer, so it pays page faults for
fresh memory every time: SmolLM2-135M, 4 rows x 2,048 tokens on two cores, took 18.3 s with
2.3 million minor page faults by default, and 15.4 s with none once freed memory is kept. `keep_freed_memory` tells glibc to
serve every block from its heap and to keep up to KEPT_BYTES of freed memory at the heap's
top for reuse: the effect PyTorch's own CPU launcher (``torch.backends.xeon.run_cpu``) gets
by preloading jemalloc or tcmalloc, set here from inside the process. Figures do not change:
only where the memory comes from.

`release_freed_memory` hands what is kept back to the system, so that a task's peak resident
memory starts from what is in use, not from what an earlier task freed.

Elsewhere (macOS, musl) both do nothing; `host_allocator` says which applies.
"""

from __future__ import annotations

import ctypes
import platform
from functools import cache

KEPT_BYTES = 1024**3  # mallopt takes a C int: at most 2 GiB - 1
_M_TRIM_THRESHOLD = -1  # glibc malloc.h
_M_MMAP_MAX = -4

_kept = False


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)  # this process's own symbols, glibc's malloc among them
    except OSError:
        return None


def keep_freed_memory() -> bool:
    """From now on, large blocks come from the heap and freed memory is kept for reuse
    (up to KEPT_BYTES). False where the C library is not glibc or refuses."""
    global _kept
    libc = _glibc()
    if libc is None:
        return False
    _kept = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, KEPT_BYTES))
    return _kept


def release_freed_memory() -> None:
    """Hand the memory freed but kept by the allocator back to the system (``malloc_trim``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def host_allocator() -> str:
    """How freed host memory is treated in this process, for the results' environment."""
    if _kept:
        return f"glibc, freed memory kept for reuse (no mmap, trim above {KEPT_BYTES // 1024**2} MiB)"
    return "glibc, default" if _glibc() is not None else f"{platform.libc_ver()[0] or 'unknown'} C library, default"
