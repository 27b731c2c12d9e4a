"""Which students one machine grades: a deterministic 1/N of the class, by a hash of each name.

Student ``name`` is in shard ``k`` of ``n`` (``k`` from 1) when ``int(sha256(name)) % n == k - 1``:
adding or removing a student moves no one else. The shard comes from ``--shard K/N``, else from the
job engine's environment (:func:`shard_from_env`), by these rules:

- **Slurm job arrays.** Slurm gives each task ``SLURM_ARRAY_TASK_ID`` and the whole array's
  ``SLURM_ARRAY_TASK_MIN``, ``_MAX``, ``_STEP`` and ``_COUNT`` (a list such as ``--array=1,2,4`` gets
  MIN 1, MAX 4, STEP 1, COUNT 3; a lone ``--array=3`` gets MIN 3, MAX 3, STEP 1, COUNT 1).

  - Without ``$CNNGRADE_SHARDS`` the array is the whole split: N is its number of tasks and K the
    task's place in it. ``--array=1-3``, ``--array=0-2`` and ``--array=1-5:2`` all give shards 1/3,
    2/3 and 3/3. Refused, saying what to type: an array of one task (a task re-submitted alone,
    which would otherwise grade the whole class), an array starting past task 1 (part of an array
    re-submitted), and tasks not evenly spaced (a list).
  - With ``CNNGRADE_SHARDS=N`` the task id is the shard number: K = ``SLURM_ARRAY_TASK_ID``, and
    every task id of the array must be within 1..N. This re-submits the failed tasks of an
    ``--array=1-N`` split (``CNNGRADE_SHARDS=8 sbatch --array=3,5 ...`` grades shards 3/8 and 5/8),
    or runs any list of shards.

- **Kubernetes indexed Jobs**: ``JOB_COMPLETION_INDEX`` (from 0) is shard index + 1 of
  ``$CNNGRADE_SHARDS`` (Kubernetes does not export ``completions``: set it to the same value).
- **GitLab** ``parallel: N``: ``CI_NODE_INDEX`` (from 1) of ``CI_NODE_TOTAL``.
- A GitHub Actions matrix has no variables of its own: pass ``--shard ${{ matrix.shard }}/N``.

``$CNNGRADE_SHARDS`` with no task index beside it is refused rather than read as the whole class.
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

#: what a Slurm user can do when the array alone does not tell the shard
_SLURM_FIX = ("pass `--shard K/N` to `cnngrade batch`, or export CNNGRADE_SHARDS=N before `sbatch` (each task id "
              "is then its shard number, from 1 to N)")


def parse_shard(text: str, source: str = "--shard") -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ShardError(f"{source} {text!r}: expected K/N, such as 2/3 (shard 2 of 3)") from None
    return Shard(index, count, source)


def _int(env: Mapping[str, str], name: str) -> int:
    if name not in env:
        raise ShardError(f"${name} is not set, and cnngrade needs it to tell this task's shard: pass --shard K/N")
    try:
        return int(env[name])
    except ValueError:
        raise ShardError(f"${name} is {env[name]!r}, not a whole number: pass --shard K/N") from None


def _shard_count(env: Mapping[str, str]) -> int:
    count = _int(env, "CNNGRADE_SHARDS")
    if count < 1:
        raise ShardError(f"$CNNGRADE_SHARDS is {count}: set it to the number of shards the class is split into "
                         "(at least 1)")
    return count


def _slurm_numbered(env: Mapping[str, str], task: int) -> Shard:
    """``CNNGRADE_SHARDS=N``: the task id is the shard number; every task of the array must be within 1..N."""
    count = _shard_count(env)
    first = _int(env, "SLURM_ARRAY_TASK_MIN") if "SLURM_ARRAY_TASK_MIN" in env else task
    last = _int(env, "SLURM_ARRAY_TASK_MAX") if "SLURM_ARRAY_TASK_MAX" in env else task
    if first < 1 or last > count:
        raise ShardError(f"$CNNGRADE_SHARDS is {count}, so each Slurm array task id is its shard number, from 1 to "
                         f"{count}, but this array runs tasks {first} to {last}: submit task ids within 1-{count} "
                         f"(`sbatch --array=1-{count} ...`, or only the ones to grade again), or unset "
                         "CNNGRADE_SHARDS to number the array's tasks in order")
    return Shard(task, count, f"Slurm's SLURM_ARRAY_TASK_ID {task} and $CNNGRADE_SHARDS")


def _slurm(env: Mapping[str, str]) -> Shard:
    """The shard of a Slurm array task (see the module's docstring)."""
    task = _int(env, "SLURM_ARRAY_TASK_ID")
    if "CNNGRADE_SHARDS" in env:
        return _slurm_numbered(env, task)
    first, last, step, count = (_int(env, f"SLURM_ARRAY_TASK_{part}") for part in ("MIN", "MAX", "STEP", "COUNT"))
    if count == 1:
        raise ShardError(f"Slurm array task {task} is the only task of its array (a task submitted alone, such as "
                         f"`sbatch --array={task}`), so the array does not say how many shards the class is split "
                         f"into: {_SLURM_FIX}. (Task {task} of an array counted from 0 was shard {task + 1}/N: pass "
                         f"`--shard {task + 1}/N` for it.)")
    if first > 1:
        raise ShardError(f"this Slurm array runs tasks {first} to {last}, starting past task 1 (part of an array "
                         f"submitted again?), so task {task}'s shard is not its place in this array: {_SLURM_FIX}; "
                         "or submit the whole array, from task 0 or 1")
    if step < 1 or last - first != (count - 1) * step or (task - first) % step:
        raise ShardError(f"this Slurm array's {count} tasks, from {first} to {last}, are not evenly spaced (a list "
                         f"such as `--array=1,2,4`), so task {task}'s place in the split is unknown: {_SLURM_FIX}; "
                         "or submit an evenly spaced array (`--array=1-N`, or `--array=1-M:S`)")
    return Shard((task - first) // step + 1, count, f"Slurm's array task {task} of {first}-{last}:{step}")


def _kubernetes(env: Mapping[str, str]) -> Shard:
    if "CNNGRADE_SHARDS" not in env:
        raise ShardError("$JOB_COMPLETION_INDEX is set (a Kubernetes indexed Job) but not $CNNGRADE_SHARDS: set it "
                         "to the Job's `completions`, or pass --shard K/N")
    index, count = _int(env, "JOB_COMPLETION_INDEX"), _shard_count(env)
    if not 0 <= index < count:
        raise ShardError(f"Kubernetes' $JOB_COMPLETION_INDEX is {index} but $CNNGRADE_SHARDS is {count}, and the "
                         f"indexes of a Job of {count} completions run from 0 to {count - 1}: set CNNGRADE_SHARDS "
                         "to the Job's `completions` (the same number), or pass --shard K/N")
    return Shard(index + 1, count, "Kubernetes' JOB_COMPLETION_INDEX / CNNGRADE_SHARDS")


def _gitlab(env: Mapping[str, str]) -> Shard:
    index, total = _int(env, "CI_NODE_INDEX"), _int(env, "CI_NODE_TOTAL")
    if not 1 <= index <= total:
        raise ShardError(f"GitLab's $CI_NODE_INDEX is {index} but $CI_NODE_TOTAL is {total}, and the index of a job "
                         f"of `parallel: {total}` runs from 1 to {total}: leave both variables to GitLab's "
                         "`parallel: N`, or pass --shard K/N")
    return Shard(index, total, "GitLab's CI_NODE_INDEX / CI_NODE_TOTAL")


def shard_from_env(env: Mapping[str, str]) -> Shard | None:
    """The shard the job engine's variables give (see the module's docstring), or None: no job array.

    Raises :class:`ShardError`, saying what to type, where the variables do not tell one shard."""
    if "SLURM_ARRAY_TASK_ID" in env:
        return _slurm(env)
    if "JOB_COMPLETION_INDEX" in env:
        return _kubernetes(env)
    if "CI_NODE_INDEX" in env:
        return _gitlab(env)
    if "CNNGRADE_SHARDS" in env:
        raise ShardError(f"$CNNGRADE_SHARDS is {env['CNNGRADE_SHARDS']!r} but no job array says which shard this is "
                         "(no $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX or $CI_NODE_INDEX): pass --shard K/N, or "
                         "unset CNNGRADE_SHARDS to grade the whole class")
    return None
