"""How many threads torch uses in a grading run, set through the environment that every process reads.

A process's torch (and its OpenMP and MKL pools) uses :func:`default_threads` intra-op threads:
``$OMP_NUM_THREADS`` when it is set, else every CPU the process may run on (torch's own default). One
grading on an idle machine should use them all; gradings side by side should share them. OpenMP's
threads wait for each other at every parallel region's end by spinning: two gradings of 2 threads each
on 2 cores keep each other's threads spinning for a descheduled partner. A batch of ``N`` workers
therefore gives each grading run :func:`share` ``(N)`` threads, through :func:`thread_env`.

A process forked from one whose torch is already imported (:mod:`cnngrade.batch.warm`) gets its
environment after torch read it: :func:`apply` sets torch's count from the new environment, as a fresh
process would have.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: the variables torch's thread pools read (OpenMP, MKL, OpenBLAS)
VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def default_threads(environ: Mapping[str, str] = os.environ) -> int:
    """torch's intra-op threads in a process with ``environ``: ``$OMP_NUM_THREADS`` (when a positive
    integer), else :func:`cpus`."""
    try:
        return max(1, int(environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return cpus()


def share(workers: int) -> int:
    """Threads for each of ``workers`` processes that run side by side: ``max(1, cpus() // workers)``."""
    return max(1, cpus() // max(1, workers))


def thread_env(count: int) -> dict[str, str]:
    """The environment variables that give a process ``count`` threads in each of torch's pools."""
    return dict.fromkeys(VARIABLES, str(count))


def apply(environ: Mapping[str, str] = os.environ) -> None:
    """Set torch's intra-op threads to :func:`default_threads` of ``environ`` (for a process whose torch
    was imported under another environment)."""
    import torch

    torch.set_num_threads(default_threads(environ))
