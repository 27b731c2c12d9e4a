"""A cgroup of its own for each sandboxed child: one memory limit and one pids limit for all its
processes together, an atomic freeze and thaw between calls, and one kill of them all.

:func:`hierarchy` finds where this process can make cgroups (once per process): cgroup v1 (the
``memory``, ``pids`` and ``freezer`` hierarchies, each mounted apart; the new cgroups go under the
grading process's own) or v2 (one hierarchy with the ``memory`` and ``pids`` controllers; the new
cgroups go beside the grading process's own, since a v2 cgroup holding processes cannot have
children with controllers). Where none can be made (not root, not mounted, read-only, or
``CNNGRADE_CGROUPS=0``) it says why, and the isolated backend keeps its per-process rlimits and its
/proc sweep (:mod:`.process`).

A :class:`Cgroup` is made before its child starts, and the child's first process joins it before it
runs anything else (:meth:`Cgroup.command`), so every process of the sandbox is born inside it; none
can leave (the sandbox has no /sys and no capability). Its directories are named
``cnngrade-PID-N`` (PID: the grading process's); :meth:`Cgroup.remove` deletes them when the child
has ended (a grading process killed by SIGKILL leaves them, empty: :func:`leftovers` lists them, and
the next grading process's :func:`hierarchy` removes them).
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass

PREFIX = "cnngrade-"
#: v1 hierarchies a child needs (the first holds the memory limit)
V1_CONTROLLERS = ("memory", "pids", "freezer")
_SHELL = "/bin/sh"
_counter = itertools.count()


@dataclass(frozen=True)
class Hierarchy:
    """Where this process makes cgroups: ``parents`` are the directories they go in (v1: one per
    controller of :data:`V1_CONTROLLERS`; v2: one)."""

    version: int
    parents: tuple[str, ...]


class Cgroup:
    """One child's cgroup (a directory in each of ``hierarchy.parents``), made with its limits."""

    def __init__(self, hierarchy: Hierarchy, memory: int, tasks: int) -> None:
        name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.version = hierarchy.version
        self.paths = tuple(os.path.join(parent, name) for parent in hierarchy.parents)
        #: the directories holding the memory, pids and freezer files
        self.memory_dir, self.pids_dir, self.freezer_dir = self.paths if len(self.paths) == 3 else self.paths * 3
        try:
            for path in self.paths:
                os.mkdir(path, 0o755)
            if self.version == 2:
                _write(self.memory_dir, "memory.max", memory)
                if os.path.exists(os.path.join(self.memory_dir, "memory.swap.max")):
                    _write(self.memory_dir, "memory.swap.max", 0)
            else:
                _write(self.memory_dir, "memory.limit_in_bytes", memory)
                if os.path.exists(os.path.join(self.memory_dir, "memory.memsw.limit_in_bytes")):
                    _write(self.memory_dir, "memory.memsw.limit_in_bytes", memory)  # no swap beyond it
            _write(self.pids_dir, "pids.max", tasks)
        except OSError:
            self.remove(timeout=0)
            raise

    def procs_files(self) -> list[str]:
        """The files a process writes its pid into to join this cgroup (one per hierarchy)."""
        return [os.path.join(p, "cgroup.procs") for p in self.paths]

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run by a shell that first puts itself into this cgroup (exit status 125 if it cannot)."""
        script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
        return [_SHELL, "-c", script, "sh", *self.procs_files(), "--", *argv]

    def freeze(self) -> None:
        """Stop every process in it (the kernel also stops any it forks meanwhile)."""
        self.set_frozen(True)

    def thaw(self) -> None:
        self.set_frozen(False)

    def set_frozen(self, frozen: bool, strict: bool = False) -> None:
        """Freeze or thaw; an error is ignored (the cgroup is gone: the child ended) unless ``strict``."""
        if self.version == 2:
            name, value = "cgroup.freeze", str(int(frozen))
        else:
            name, value = "freezer.state", "FROZEN" if frozen else "THAWED"
        try:
            _write(self.freezer_dir, name, value)
        except OSError:
            if strict:
                raise

    def kill(self) -> None:
        """SIGKILL every process in it: v2's ``cgroup.kill``, else frozen, each one killed, thawed."""
        if self.version == 2 and os.path.exists(os.path.join(self.paths[0], "cgroup.kill")):
            try:
                _write(self.paths[0], "cgroup.kill", 1)
            except OSError:
                pass
            return
        self.freeze()
        deadline = time.monotonic() + 1
        while not self._frozen() and time.monotonic() < deadline:  # none is in the middle of a fork
            time.sleep(0.001)
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.thaw()  # a frozen process dies when it thaws

    def pids(self) -> list[int]:
        try:
            return [int(pid) for pid in _read(self.paths[0], "cgroup.procs").split()]
        except (OSError, ValueError):
            return []

    def oom_kills(self) -> int:
        """How many of its processes the kernel killed for want of memory (the limit); read after every call."""
        try:
            events = _read(self.memory_dir, "memory.events" if self.version == 2 else "memory.oom_control")
            return int(dict(line.split(b" ", 1) for line in events.splitlines()).get(b"oom_kill", 0))
        except (OSError, ValueError):
            return 0

    def peak(self) -> int | None:
        """The most memory its processes used together, in bytes (None where the kernel does not say)."""
        try:
            return int(_read(self.memory_dir, "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"))
        except (OSError, ValueError):
            return None

    def remove(self, timeout: float = 10.0) -> bool:
        """Delete its directories once its processes are gone (killing any left); False if they stay."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                for path in self.paths:
                    if os.path.isdir(path):
                        os.rmdir(path)
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                self.kill()
                time.sleep(0.02)

    def _frozen(self) -> bool:
        try:
            if self.version == 2:
                return b"frozen 1\n" in _read(self.freezer_dir, "cgroup.events")
            return _read(self.freezer_dir, "freezer.state").strip() == b"FROZEN"
        except OSError:
            return True  # gone


def _write(directory: str, name: str, value: object) -> None:
    fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _read(directory: str, name: str) -> bytes:
    """The file's contents (plain system calls: a call's pause reads one)."""
    fd = os.open(os.path.join(directory, name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- finding the hierarchy


@functools.lru_cache(maxsize=1)
def hierarchy() -> Hierarchy | str:
    """Where this process makes its children's cgroups, or why it cannot (cached)."""
    if os.environ.get("CNNGRADE_CGROUPS", "").strip() == "0":
        return "turned off by CNNGRADE_CGROUPS=0"
    found = _find()
    if isinstance(found, str):
        return found
    sweep(found)
    if found.version == 2:  # the controllers of the cgroups it makes (already so where the parent has others)
        try:
            _write(found.parents[0], "cgroup.subtree_control", "+memory +pids")
        except OSError:
            pass
    try:  # a trial: a cgroup with its limits, that a process joins and leaves
        trial = Cgroup(found, memory=64 << 20, tasks=8)
    except OSError as exc:
        return f"cannot make a cgroup in {found.parents[0]} ({exc.strerror or exc})"
    try:
        status = subprocess.run(trial.command([_SHELL, "-c", "exit 0"]), capture_output=True, timeout=30)
        if status.returncode != 0:
            return f"cannot move a process into a cgroup in {found.parents[0]} (exit status {status.returncode})"
        trial.set_frozen(True, strict=True)
        trial.set_frozen(False, strict=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot move a process into a cgroup, or freeze one, in {found.parents[0]} ({exc})"
    finally:
        trial.remove(timeout=2)
    return found


def _find() -> Hierarchy | str:
    """The hierarchy whose memory controller is mounted, v1 or v2, without trying to write to it."""
    mounts = []  # (type, root of the hierarchy that is mounted, mount point, super options)
    try:
        with open("/proc/self/mountinfo") as mountinfo:
            for line in mountinfo:
                fields, _, rest = line.partition(" - ")
                kind, _source, options = (rest.split() + ["", ""])[:3]
                if kind in ("cgroup", "cgroup2"):
                    mounts.append((kind, fields.split()[3], fields.split()[4], set(options.split(","))))
        with open("/proc/self/cgroup") as own_file:
            own = {c: path for _, controllers, path in (line.rstrip("\n").split(":", 2) for line in own_file)
                   for c in controllers.split(",")}
    except (OSError, ValueError) as exc:
        return f"cannot read this process's cgroups ({exc})"
    parents = []
    for controller in V1_CONTROLLERS:
        mount = next((m for m in mounts if m[0] == "cgroup" and controller in m[3]), None)
        if mount is None or controller not in own:
            break
        parents.append(_inside(mount, own[controller]))
    else:
        return Hierarchy(1, tuple(parents))
    for mount in (m for m in mounts if m[0] == "cgroup2"):
        try:
            with open(os.path.join(mount[2], "cgroup.controllers")) as controllers:
                available = set(controllers.read().split())
        except OSError:
            continue
        if {"memory", "pids"} <= available and "" in own:
            mine = _inside(mount, own[""])
            return Hierarchy(2, (mine if mine == mount[2] else os.path.dirname(mine),))
    if mounts:
        return "no cgroup hierarchy with the memory, pids and freezer controllers (v1) or memory and pids (v2)"
    return "no cgroup file system mounted"


def _inside(mount: tuple[str, str, str, set[str]], path: str) -> str:
    """The directory of cgroup ``path`` under ``mount`` (the mount point where it is not mounted below it)."""
    _kind, root, point, _options = mount
    relative = os.path.relpath(path, root)
    return point if relative.startswith("..") else os.path.normpath(os.path.join(point, relative))


def leftovers(parent: str) -> list[str]:
    """Names of the cgroups in ``parent`` made by grading processes that no longer run."""
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    return sorted(name for name in names if (match := re.fullmatch(rf"{PREFIX}(\d+)-\w+", name))
                  and not os.path.exists(f"/proc/{match.group(1)}"))


def sweep(found: Hierarchy) -> int:
    """Remove the empty cgroups that grading processes killed by SIGKILL left (:func:`leftovers`; one
    whose processes still run cannot be removed, and stays); how many were removed."""
    removed = 0
    for parent in found.parents:
        for name in leftovers(parent):
            try:
                os.rmdir(os.path.join(parent, name))
                removed += 1
            except OSError:
                pass
    return removed


def describe(memory: int, gpu: bool = False) -> str:
    """The memory cap in words, for the backend's description."""
    found = hierarchy()
    if isinstance(found, str):
        alone = "no per-process address-space limit either (GPU)" if gpu else "per-process address-space limit only"
        return f"no total memory cap (cgroups unavailable: {found}): {alone}"
    return f"memory capped at {size(memory)} for all its processes (cgroup v{found.version})"


def size(count: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.3g} {unit}"
    return f"{count} bytes"
