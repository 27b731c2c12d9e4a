"""What hostile submissions might leave on the grading machine: a snapshot to compare before and after.

Files with a hostile submission's marks in every place one of them tries to write to, the hostile
corpus's own files, cnngrade's feedback module (which two of them try to overwrite), the cgroups
that grading processes which have ended left (each child's must be removed when it ends) and, as
root, the processes of the sandbox uids.
"""

from __future__ import annotations

import hashlib
import os
import site
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cnngrade
from cnngrade.submission.isolated import cgroups, sandbox
from tests.paths import ROOT, TESTS

HOSTILE = TESTS / "hostile"
#: marks of files that hostile submissions plant; none may ever exist on the host
PLANTED = ("cnngrade-hostile", "filler-")
FEEDBACK = Path(cnngrade.__file__).parent / "grader" / "feedback.py"


@dataclass(frozen=True)
class HostState:
    planted: tuple[str, ...]
    hostile_files: tuple[tuple[str, str], ...]
    feedback: str
    sandboxed_tasks: int
    cgroups: tuple[str, ...]


def host_state() -> HostState:
    return HostState(tuple(planted_files()), tuple(hostile_files().items()),
                     hashlib.sha256(FEEDBACK.read_bytes()).hexdigest(), sandbox.sandboxed_tasks(),
                     tuple(leftover_cgroups()))


def leftover_cgroups() -> list[str]:
    """cgroup directories of children whose grading process no longer runs (none where cgroups are unavailable)."""
    found = cgroups.hierarchy()
    if isinstance(found, str):
        return []
    return [os.path.join(parent, name) for parent in found.parents for name in cgroups.leftovers(parent)]


def planted_files() -> list[str]:
    """Files with a hostile submission's marks in every place one of them tried to write to."""
    places = [Path(tempfile.gettempdir()), Path(cnngrade.__file__).parent, Path.home() / ".cache",
              Path(sysconfig.get_paths()["purelib"]), Path(site.getusersitepackages()), HOSTILE, ROOT / "reference"]
    found = []
    for place in places:
        if not place.is_dir():
            continue
        depth = 1 if place == Path(tempfile.gettempdir()) else 4
        for path in _walk(place, depth):
            if any(mark in path.name for mark in PLANTED):
                found.append(str(path))
    return found


def _walk(directory: Path, depth: int):
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        yield Path(entry.path)
        if depth > 1 and entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), depth - 1)


def hostile_files() -> dict[str, str]:
    return {str(p.relative_to(HOSTILE)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(HOSTILE.rglob("*")) if "__pycache__" not in p.parts}
