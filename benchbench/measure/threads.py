"""How many threads torch computes with on the CPU: the same for the same model on the same
machine, whichever executor runs it.

Ray starts its workers with OMP_NUM_THREADS set to the CPUs a task reserved (often 1), while a
local child process takes every core; the reductions of a matrix product then run in another
order, the last bits of a float differ, and a tiny model's greedy token can flip. So the
thread count is set from the machine (runtime.threads: auto = the CPUs this process may run
on), not from the executor's environment, and each result records it.
"""

from __future__ import annotations

import os


def machine_threads() -> int:
    """The CPUs this process may run on (its affinity where the system says, else the count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def use_threads(requested: int | str, local: bool) -> int:
    """Set torch's intra-op threads (`requested`, or the machine's for auto) and return them;
    for a model that is not `local` (served: it computes on its server) nothing is set."""
    threads = machine_threads() if requested == "auto" else int(requested)
    if local:
        import torch

        torch.set_num_threads(threads)
    return threads
