"""Starting sandboxed children for one submission, without importing torch.

A :class:`Launcher` stages the submission's files once, then starts a child per :meth:`Launcher.spawn`
(the first, and one after each crash). It imports no torch, so a grading run starts its first
submission's child before it imports torch itself (:func:`start_early`, from cnngrade's pytest entry
point): the child's import of torch, seconds of work, then runs beside the grader's on another core.
:class:`~.backend.IsolatedSubmission` adopts that child (:func:`adopt`) when it opens the same
submission with the same limits; a child nobody adopts is stopped at exit.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cnngrade.lab.config import default_parts
from cnngrade.lab.parts import Parts
from cnngrade.submission.errors import LoadError, MachineFault
from cnngrade.submission.isolated import sandbox, zygote
from cnngrade.submission.isolated.limits import Limits
from cnngrade.submission.isolated.process import Child
from cnngrade.threads import default_threads


class Launcher:
    """Starts the sandboxed children of the submission at ``path``; :meth:`close` deletes its staged copy."""

    def __init__(self, path: Path, *, definitions_only: bool, limits: Limits, box: sandbox.Sandbox,
                 parts: Parts | None = None) -> None:
        """``parts``: the lab's file contract (default: the project's default lab's)."""
        self.path, self.definitions_only, self.limits, self.sandbox = Path(path), definitions_only, limits, box
        self.parts = parts if parts is not None else default_parts()
        self.staging = Path(tempfile.mkdtemp(prefix="cnngrade-sandbox-"))
        os.chmod(self.staging, 0o755)
        self._staged: tuple[str, str] | None = None  # (the directory mounted, the path inside the sandbox)

    def spawn(self) -> Child:
        """A new child in a new sandbox, serving the submission (raises LoadError if it cannot be staged)."""
        if self._staged is None:
            try:
                self._staged = sandbox.stage_submission(self.path, self.staging / "submission",
                                                        self.limits.submission_bytes)
            except OSError as exc:
                raise LoadError(f"The submission could not be copied into the sandbox: {exc}") from None
        mount_dir, inside = self._staged
        options = {"submission": inside, "definitions_only": self.definitions_only, "caps": asdict(self.limits.caps),
                   "parts": self.parts.as_json()}
        flags = ["-s", "-B"] + (["-P"] if sys.version_info >= (3, 11) else [])
        threads = child_threads(self.limits)
        uid = sandbox.allocate_uid()
        spec = sandbox.ChildSpec(
            argv=[sys.executable, *flags, "-m", "cnngrade.submission.isolated.child", json.dumps(options)],
            env=sandbox.child_env(threads, self.limits.gpu),
            mounts=sandbox.child_mounts(mount_dir, self.limits.tmp_size, self.limits.shm_size, self.limits.gpu),
            rlimits=sandbox.base_rlimits(
                uid=uid, address_space=None if self.limits.gpu else self.limits.address_space,
                cpu_seconds=self.limits.cpu_seconds, file_size=self.limits.file_size,
                open_files=self.limits.open_files, processes=self.limits.processes + threads),
            uid=uid,
        )
        # its cgroup's tasks: the child's, and the sandbox's own few (bubblewrap or unshare, the namespace's init)
        tasks = self.limits.processes + threads + 8
        owner = uid if os.geteuid() == 0 else None
        if self.sandbox.forks:
            try:
                server = zygote.server_for(fork_server_env(self.limits))
            except (OSError, zygote.ForkServerError) as exc:
                raise MachineFault(f"The sandbox could not be started: {exc}") from None
            return Child([], self.limits, uid=owner, tasks=tasks, server=server,
                         spec=self.sandbox.fork_spec(spec, self.staging))
        return Child(self.sandbox.command(spec, self.staging), self.limits, uid=owner, tasks=tasks)

    def close(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def child_threads(limits: Limits) -> int:
    """The child's torch threads: the limits', else this process's (:func:`cnngrade.threads.default_threads`)."""
    return limits.threads or default_threads()


def fork_server_env(limits: Limits) -> dict[str, str]:
    """The fork server's environment: the children's, with the staged package importable outside."""
    return {**sandbox.child_env(child_threads(limits), limits.gpu),
            "PYTHONPATH": sandbox.python_path(sandbox.staged_package())}


@dataclass
class _Early:
    launcher: Launcher
    child: Child


_early: list[_Early] = []


def start_early(path: Path, *, definitions_only: bool, limits: Limits, parts: Parts | None = None) -> None:
    """Start a child for ``path`` now, for an IsolatedSubmission opened later to adopt."""
    if not Path(path).exists():
        return  # reported by the first call
    box = sandbox.detect()
    if box.forks:  # the server imports torch beside the grader; children fork in milliseconds later
        try:
            zygote.server_for(fork_server_env(limits))
        except (OSError, zygote.ForkServerError):
            pass  # reported by the first call
        return
    launcher = Launcher(path, definitions_only=definitions_only, limits=limits, box=box, parts=parts)
    try:
        _early.append(_Early(launcher, launcher.spawn()))
    except (LoadError, MachineFault):  # reported by the first call
        launcher.close()


def adopt(path: Path, *, definitions_only: bool, limits: Limits, parts: Parts) -> tuple[Launcher, Child] | None:
    """The launcher and child :func:`start_early` started for the same submission and limits, if any."""
    for early in _early:
        launcher = early.launcher
        if (launcher.path.resolve(), launcher.definitions_only, launcher.limits, launcher.parts) == (
                Path(path).resolve(), definitions_only, limits, parts):
            _early.remove(early)
            return launcher, early.child
    return None


@atexit.register
def stop_unadopted() -> None:
    """Stop the children started early that nobody adopted (a run that selected no check, say)."""
    while _early:
        early = _early.pop()
        early.child.stop()
        early.launcher.close()
