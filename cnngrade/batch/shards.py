"""Which students one machine grades: a deterministic 1/N of the class, by a hash of each name.

Student ``name`` is in shard ``k`` of ``n`` (``k`` from 1) when ``int(sha256(name)) % n == k - 1``:
adding or removing a student moves no one else. The shard comes from ``--shard K/N``, else from the
job engine's environment (:func:`shard_from_env`):

- Slurm job arrays: ``SLURM_ARRAY_TASK_ID`` and ``SLURM_ARRAY_TASK_COUNT`` (the task's place counted
  from ``SLURM_ARRAY_TASK_MIN``, so ``--array=0-3`` and ``--array=1-4`` both work);
- Kubernetes indexed Jobs: ``JOB_COMPLETION_INDEX`` (from 0), with the count in ``CNNGRADE_SHARDS``
  (Kubernetes does not export ``completions``; set it from the same value);
- GitLab ``parallel:``: ``CI_NODE_INDEX`` (from 1) and ``CI_NODE_TOTAL``;
- a GitHub Actions matrix has no variables of its own: pass ``--shard ${{ matrix.shard }}/N``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["WHOLE", "Shard", "ShardError", "parse_shard", "shard_from_env"]


class ShardError(ValueError):
    """A shard that cannot be: its message says what was given and what is expected."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (from 1) of ``count``; ``source`` says where it came from, for messages."""

    index: int
    count: int
    source: str = field(default="--shard", compare=False)

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ShardError(f"shard {self.index}/{self.count} (from {self.source}): K/N needs 1 <= K <= N")

    def holds(self, name: str) -> bool:
        """Whether student ``name`` is in this shard: ``int(sha256(name)) % count == index - 1``."""
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


#: the whole class: one shard
WHOLE = Shard(1, 1, "no shard")


def parse_shard(text: str, source: str = "--shard") -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ShardError(f"{source} {text!r}: expected K/N, such as 2/3 (shard 2 of 3)") from None
    return Shard(index, count, source)


def _int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ShardError(f"${name} is {env[name]!r}, not a whole number") from None


def shard_from_env(env: Mapping[str, str]) -> Shard | None:
    """The shard the job engine's variables give (see the module's docstring), or None."""
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        first = _int(env, "SLURM_ARRAY_TASK_MIN") if "SLURM_ARRAY_TASK_MIN" in env else 0
        return Shard(_int(env, "SLURM_ARRAY_TASK_ID") - first + 1, _int(env, "SLURM_ARRAY_TASK_COUNT"),
                     "Slurm's SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT")
    if "JOB_COMPLETION_INDEX" in env:
        if "CNNGRADE_SHARDS" not in env:
            raise ShardError("$JOB_COMPLETION_INDEX is set (a Kubernetes indexed Job) but not $CNNGRADE_SHARDS: set "
                             "it to the Job's completions, or pass --shard K/N")
        return Shard(_int(env, "JOB_COMPLETION_INDEX") + 1, _int(env, "CNNGRADE_SHARDS"),
                     "Kubernetes' JOB_COMPLETION_INDEX / CNNGRADE_SHARDS")
    if "CI_NODE_INDEX" in env and "CI_NODE_TOTAL" in env:
        return Shard(_int(env, "CI_NODE_INDEX"), _int(env, "CI_NODE_TOTAL"), "GitLab's CI_NODE_INDEX / CI_NODE_TOTAL")
    return None
