"""Resource limits of a sandboxed submission, with overrides from the environment.

Environment variables (read when a :class:`Limits` is made with :meth:`Limits.from_env`, which
is what :class:`~cnngrade.submission.isolated.IsolatedSubmission` does by default):

* ``CNNGRADE_CALL_TIMEOUT``: seconds one call may take (default 60; training calls may take 10
  times as long, see ``Limits.timeout_factors``);
* ``CNNGRADE_STARTUP_TIMEOUT``: seconds the child may take to start (import torch; default 120);
* ``CNNGRADE_SUBMISSION_TIMEOUT``: seconds all calls of one submission may take together (1800);
* ``CNNGRADE_MAX_RESTARTS``: how often a crashed / hung child is replaced (3);
* ``CNNGRADE_MEMORY_LIMIT``: memory of all the child's processes together, in bytes or with a
  ``K`` / ``M`` / ``G`` suffix (default ``4G``), where cgroups allow (:mod:`.cgroups`;
  ``CNNGRADE_CGROUPS=0`` does without them);
* ``CNNGRADE_SANDBOX_GPU=1``: give the child the NVIDIA devices (and no address-space limit,
  which CUDA cannot live with).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Caps:
    """Upper bounds on one frame; a frame beyond any of them is rejected unread."""

    header_bytes: int = 8 << 20
    array_bytes: int = 512 << 20
    arrays: int = 4096
    depth: int = 32
    items: int = 1_000_000
    string_chars: int = 1 << 20
    ndim: int = 16
    int_bits: int = 128


@dataclass(frozen=True)
class Limits:
    """What one sandboxed submission may use. Times in seconds, sizes in bytes."""

    #: wall-clock seconds per call; ``timeout_factors`` multiplies it for slow methods
    call_timeout: float = 60.0
    timeout_factors: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"train_and_predict": 10.0, "predict_with_state": 3.0}))
    #: wall-clock seconds for a fresh child to be ready (interpreter + torch import)
    startup_timeout: float = 120.0
    #: wall-clock seconds of all calls of the submission together, startups included
    submission_timeout: float = 1800.0
    #: children started again after one crashed, hung, flooded or lied (per submission)
    max_restarts: int = 3
    #: RLIMIT_AS of each process (``import torch`` of a CUDA build maps about 3.5 GiB)
    address_space: int = 8 * GiB
    #: memory of all the child's processes together (its tmpfs files count too), where cgroups allow
    memory: int = 4 * GiB
    #: RLIMIT_CPU of each process (all threads together)
    cpu_seconds: int = 3600
    #: RLIMIT_FSIZE: the largest file the child may write
    file_size: int = 64 * MiB
    #: size of the child's private writable /tmp (its HOME and working directory)
    tmp_size: int = 256 * MiB
    #: size of its /dev/shm
    shm_size: int = 64 * MiB
    #: RLIMIT_NOFILE
    open_files: int = 512
    #: processes and threads the child may run (added to what the sandbox uid already runs)
    processes: int = 64
    #: output (stdout + stderr) beyond which the child is stopped as flooding
    output_bytes: int = 16 * MiB
    #: characters of the output's end shown in feedback when the child dies
    log_tail_chars: int = 1500
    #: top-level files of the submission copied into the sandbox, in total
    submission_bytes: int = 512 * MiB
    #: torch / OpenMP threads of the child (default: the grading process's torch threads)
    threads: int | None = None
    #: give the child the NVIDIA devices (and lift the address-space limit)
    gpu: bool = False
    #: caps on every frame read from the child
    caps: Caps = field(default_factory=Caps)

    def timeout_for(self, method: str) -> float:
        return float(self.call_timeout * self.timeout_factors.get(method, 1.0))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Limits:
        """Defaults, then ``CNNGRADE_*`` variables, then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, key, kind in (
            ("call_timeout", "CNNGRADE_CALL_TIMEOUT", float),
            ("startup_timeout", "CNNGRADE_STARTUP_TIMEOUT", float),
            ("submission_timeout", "CNNGRADE_SUBMISSION_TIMEOUT", float),
            ("max_restarts", "CNNGRADE_MAX_RESTARTS", int),
        ):
            if env.get(key):
                try:
                    values[name] = kind(env[key])
                except ValueError:
                    raise ValueError(f"{key}={env[key]!r} is not a number") from None
        if env.get("CNNGRADE_MEMORY_LIMIT", "").strip():
            values["memory"] = parse_size(env["CNNGRADE_MEMORY_LIMIT"], "CNNGRADE_MEMORY_LIMIT")
        if env.get("CNNGRADE_SANDBOX_GPU", "").strip() not in ("", "0"):
            values["gpu"] = True
        values.update(overrides)
        return replace(cls(), **values)


def parse_size(text: str, name: str) -> int:
    """Bytes from ``4294967296``, ``4G``, ``4GiB``, ``512M``, ``512MB``, ``64k``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMG])(?:i?B)?)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{name}={text!r} is not a size (bytes, or a number with K, M or G)")
    shift = {"": 0, "K": 10, "M": 20, "G": 30}[(match.group(2) or "").upper()]
    return int(float(match.group(1)) * (1 << shift))
