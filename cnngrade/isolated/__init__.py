"""The isolated backend: the submission runs in a sandboxed child process.

:class:`IsolatedSubmission` implements every method of :class:`cnngrade.handle.Submission` by
sending a request frame (:mod:`cnngrade.isolated.protocol`) to a child started in a sandbox
(:mod:`cnngrade.isolated.sandbox`) and decoding its answer as untrusted data: values are rebuilt
from bytes, checked against the method's return annotation, and never unpickled. The forwarding
methods are generated from the ``Submission`` ABC, so a method added there is forwarded with no
code here; only the abstract methods of ``Submission`` can be requested (the child checks too).

The grading process keeps the clock: each call has a wall-clock timeout, the submission a total
budget; a child that crashes, exits, hangs, floods its output or answers with malformed data is
killed from outside (its whole process group, and with it the sandbox's PID namespace), and
*that* call raises a :class:`~cnngrade.errors.SubmissionError` explaining why, with the end of the
child's output. The next call starts a fresh child, up to ``Limits.max_restarts`` times.
"""

from __future__ import annotations

import abc
import functools
import inspect
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing
import weakref
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cnngrade.errors import LoadError, StudentCodeError
from cnngrade.handle import Submission
from cnngrade.isolated import protocol, sandbox
from cnngrade.isolated.limits import Limits
from cnngrade.isolated.sandbox import SandboxUnavailable

__all__ = ["IsolatedSubmission", "Limits", "SandboxError", "SandboxUnavailable"]

_WRAPPER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SandboxError(RuntimeError):
    """The sandbox failed before any student code ran (a problem of the grading machine)."""


# --------------------------------------------------------------------------- the child process


class _OutputLog:
    """Drains the child's stdout + stderr pipe, keeping only its end; calls ``on_flood`` past a cap."""

    def __init__(self, fd: int, cap: int, on_flood: Callable[[], None]) -> None:
        self.fd, self.cap, self.on_flood = fd, cap, on_flood
        self.total = 0
        self.flooded = False
        self._tail = bytearray()
        self._keep = 64 << 10
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._drain, name="cnngrade-child-output", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    break
                with self._lock:
                    self.total += len(chunk)
                    self._tail += chunk
                    if len(self._tail) > 2 * self._keep:
                        del self._tail[: len(self._tail) - self._keep]
                if self.total > self.cap and not self.flooded:
                    self.flooded = True
                    self.on_flood()
        except OSError:
            pass
        finally:
            os.close(self.fd)

    def tail(self, chars: int) -> str:
        with self._lock:
            data = bytes(self._tail[-4 * chars:])
        text = data.decode("utf-8", "replace")
        text = re.sub(r"[^\x20-\x7e\n\t\u00a0-\uffff]", "?", text)[-chars:]
        cut = self.total > len(text.encode("utf-8", "replace"))
        return ("..." if cut else "") + text.strip("\n")


class _Child:
    """One sandboxed child process and its pipes."""

    def __init__(self, argv: list[str], limits: Limits, uid: int | None = None) -> None:
        log_read, log_write = os.pipe()
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_write, close_fds=True,
                env={"PATH": _WRAPPER_PATH}, start_new_session=True, cwd="/",
            )
        except BaseException:
            os.close(log_read)
            raise
        finally:
            os.close(log_write)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests, self.answers = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self.requests, False)
        os.set_blocking(self.answers, False)
        self.log = _OutputLog(log_read, limits.output_bytes, self.kill)
        self.caps = limits.caps
        self.started = time.monotonic()
        self.ready = False  # True once it sent its greeting
        #: the outside uid that only this sandbox's processes have (root gives each child its own), or
        #: None: it also finds a process that entered a nested PID namespace of its own
        self.uid = uid
        #: the sandbox's PID namespace: a descriptor that pins it (its inode number is not reused while
        #: open) and its name ``pid:[inode]`` as /proc/PID/ns/pid reads; found by the first pause()
        self._namespace: tuple[int, str] | None = None
        #: /proc entries (name, inode) of the last pause: in the sandbox's PID namespace or not
        self._processes: dict[tuple[str, int], bool] = {}
        #: processes pause() stopped outside the process group: resume() continues them one by one
        self._escaped: list[int] = []

    def kill(self) -> None:
        """SIGKILL the sandbox's process group (its PID namespace dies with it)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except OSError:
            pass

    def pause(self) -> None:
        """SIGSTOP every process of the sandbox between calls: no background work of the student's
        steals CPU from the grader or from another submission's timed calls.

        First the process group (one atomic signal that no fork escapes), then every process in the
        sandbox's PID namespace, which also reaches one that left the group with setsid or setpgid,
        and, where root gave the sandbox a uid of its own, every process of that uid (one in a
        nested PID namespace too).
        Only /proc entries that the last pause did not see are looked at closely (an entry's inode
        changes when its pid is reused); then /proc is listed again until a listing shows no new
        process of the namespace, so a process forked during a sweep is stopped by the next.
        """
        self._signal(signal.SIGSTOP)
        namespace = self._namespace[1] if self._namespace else self._find_namespace()
        if namespace is None:
            return
        seen: dict[tuple[str, int], bool] = {}
        for entry in os.scandir("/proc"):
            key = (entry.name, entry.inode())
            inside = self._processes.get(key)
            if inside is None:
                inside = self._member(entry.name, namespace)
            seen[key] = inside
            if inside:
                self._stop_member(int(entry.name))
        self._processes = seen
        names = {name for name, _ in seen}
        while True:
            new = [name for name in os.listdir("/proc") if name not in names]
            names.update(new)
            members = [name for name in new if self._member(name, namespace)]
            if not members:
                return
            for name in members:
                self._stop_member(int(name))

    def resume(self) -> None:
        """SIGCONT the process group and every process that pause() stopped outside it."""
        self._signal(signal.SIGCONT)
        if self._namespace is not None:
            for pid in self._escaped:  # unless the pid was reused outside the sandbox meanwhile
                if self._member(str(pid), self._namespace[1]):
                    self._signal(signal.SIGCONT, pid)
        self._escaped = []

    def _signal(self, number: int, pid: int | None = None) -> None:
        """Send signal ``number`` to the process ``pid`` (default: to the child's whole process group)."""
        try:
            if pid is None:
                os.killpg(self.proc.pid, number)
            else:
                os.kill(pid, number)
        except OSError:  # gone already, or not ours to signal
            pass

    def _member(self, name: str, namespace: str) -> bool:
        """Whether the /proc entry ``name`` is a process of the sandbox: in its PID namespace, or owned
        by its own uid (a nested namespace)."""
        return name.isdigit() and (
            _pid_namespace(name) == namespace or (self.uid is not None and _real_uid(name) == self.uid))

    def _stop_member(self, pid: int) -> None:
        """SIGSTOP ``pid``, a process of the sandbox; remember it for resume() if it left the process group."""
        self._signal(signal.SIGSTOP, pid)
        group = _process_group(pid)
        if group is not None and group != self.proc.pid and pid not in self._escaped:
            self._escaped.append(pid)

    def _find_namespace(self) -> str | None:
        """The name of the sandbox's PID namespace, pinned by an open descriptor (None if not found).

        Under ``unshare --pid --fork`` the outermost process made the namespace for its children;
        under bubblewrap it stays outside, and its child, the sandbox's pid 1, is in its process group.
        """
        own = os.readlink("/proc/self/ns/pid")
        group = (int(name) for name in os.listdir("/proc")
                 if name.isdigit() and _process_group(int(name)) == self.proc.pid)
        candidates = itertools.chain([(self.proc.pid, "pid_for_children")], ((pid, "pid") for pid in group))
        for pid, link in candidates:
            try:
                fd = os.open(f"/proc/{pid}/ns/{link}", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            name = f"pid:[{os.fstat(fd).st_ino}]"
            # the group is checked after the open: the descriptor is not of a process that took a dead one's pid
            if name != own and _process_group(pid) == self.proc.pid:
                self._namespace = (fd, name)
                return name
            os.close(fd)
        return None

    def stop(self) -> None:
        self.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._namespace is not None:
            os.close(self._namespace[0])
            self._namespace = None
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.log.thread.join(timeout=5)

    def exchange(self, frame: bytes | None, deadline: float) -> tuple[str, object]:
        if frame is not None:
            protocol.write_frame(self.requests, frame, deadline)
        return protocol.read_frame(self.answers, self.caps, deadline)

    def ended(self) -> str:
        """How the process ended (it closed its answers): waits a moment for its status."""
        try:
            code = self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.kill()
            return "closed its connection to the grader"
        if code < 0:
            return f"was killed by {_signal_name(-code)}"
        if code > 128 and _signal_name(code - 128, None):
            return f"was killed by {_signal_name(code - 128)} (exit status {code})"
        return f"exited with status {code}"


def _pid_namespace(pid: str) -> str | None:
    """``pid:[inode]``, the PID namespace of the process ``pid``; None if it is gone or not ours to inspect."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _real_uid(pid: str) -> int | None:
    """The real uid of the process ``pid`` (the ``Uid:`` line of its status); None if it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _process_group(pid: int) -> int | None:
    """The process group of the process ``pid``; None if it is gone."""
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _signal_name(number: int, default: str | None = "a signal") -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return default


# --------------------------------------------------------------------------- the handle


def _call_description(method: str, arguments: dict[str, Any]) -> str:
    """How feedback names a call: ``Net.forward on a batch of shape (64, 1, 28, 28)``."""
    x = arguments.get("x")
    shape = f" on a batch of shape {tuple(x.shape)}" if hasattr(x, "shape") else ""
    if method == "build_net":
        return "Net()"
    if method in ("forward", "trace"):
        return f"Net.forward{shape}"
    if method == "gradients":
        return f"Backpropagating through Net{shape}"
    if method == "call":
        return f"{arguments.get('name')}()"
    return f"{method}()"


@functools.cache
def _signature(method: str) -> inspect.Signature:
    return inspect.signature(getattr(Submission, method))


@functools.cache
def _return_hint(method: str) -> object:
    try:
        return typing.get_type_hints(getattr(Submission, method)).get("return", Any)
    except Exception:  # an annotation that cannot be resolved: accept any plain-data value
        return Any


class IsolatedSubmission(Submission):
    """A :class:`~cnngrade.handle.Submission` whose code runs in a sandboxed child process.

    Raises :class:`~cnngrade.isolated.sandbox.SandboxUnavailable` when this machine offers no
    sandbox (it never falls back to running the code unsandboxed).
    """

    def __init__(self, path: Path, *, definitions_only: bool = True, limits: Limits | None = None) -> None:
        super().__init__(Path(path))
        self.definitions_only = definitions_only
        self.limits = limits if limits is not None else Limits.from_env()
        self.sandbox = sandbox.detect()
        self._child: _Child | None = None
        self._failures: list[str] = []
        self._used = 0.0
        self._inside: str | None = None
        self._staging = Path(tempfile.mkdtemp(prefix="cnngrade-sandbox-"))
        os.chmod(self._staging, 0o755)
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _cleanup, [None], self._staging)

    # -- requests

    def _request(self, method: str, args: tuple, kwargs: dict) -> Any:
        bound = _signature(method).bind(self, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.pop("self", None)
        what = _call_description(method, {**arguments, **arguments.get("kwargs", {})})
        try:
            frame = protocol.encode("request", {"method": method, "args": list(args), "kwargs": dict(kwargs)},
                                    self.limits.caps)
        except protocol.EncodeError as exc:
            raise TypeError(f"{method}() was given a value the isolated backend cannot send: {exc}") from None
        with self._lock:
            if not self.path.exists():
                raise LoadError(f"Submission not found: {self.path}")
            left = self.limits.submission_timeout - self._used
            if left <= 0:
                raise StudentCodeError(
                    f"{what} was not run: the submission used up its time budget of "
                    f"{self.limits.submission_timeout:g} s for all checks together."
                )
            if len(self._failures) > self.limits.max_restarts:
                raise StudentCodeError(
                    f"{what} was not run: the submission's process failed {len(self._failures)} times, so it is "
                    f"not started again. The last time: {self._failures[-1]}"
                )
            start = time.monotonic()
            try:
                return self._exchange(method, frame, what, start + left)
            finally:
                self._used += time.monotonic() - start

    def _exchange(self, method: str, frame: bytes, what: str, budget_end: float) -> Any:
        child = self._ensure_child(budget_end)
        limit = self.limits.timeout_for(method)
        timeout = min(limit, max(budget_end - time.monotonic(), 0.001))
        budget_bound = timeout < limit
        child.resume()
        try:
            kind, value = child.exchange(frame, time.monotonic() + timeout)
            child.pause()
        except protocol.ChannelTimeout:
            if child.log.flooded:
                self._fail(child, what, self._flood_reason(what))
            if budget_bound:
                self._fail(child, what, f"{what} was stopped: the submission used up its time budget of "
                                        f"{self.limits.submission_timeout:g} s for all checks together.")
            self._fail(child, what, f"{what} timed out after {limit:g} s (the time limit per call); the "
                                    "submission's process was stopped.")
        except protocol.ChannelClosed:
            if child.log.flooded:
                self._fail(child, what, self._flood_reason(what))
            self._fail(child, what, f"The submission's process {child.ended()} during {what}.")
        except protocol.ProtocolError as exc:
            self._fail(child, what, f"The submission's process sent a malformed answer to {what} ({exc}); it "
                                    "was stopped.")
        if kind == "ok":
            try:
                return protocol.conform(value, _return_hint(method), f"the answer to {method}")
            except protocol.ProtocolError as exc:
                self._fail(child, what, f"The submission's process sent a malformed answer to {what} ({exc}); "
                                        "it was stopped.")
        if kind == "error" and isinstance(value, dict) and {"type", "message"} <= set(value) <= {
                "type", "message", "fields"}:
            raise protocol.make_error(value["type"], value["message"], value.get("fields"))
        self._fail(child, what, f"The submission's process sent a malformed answer to {what} (a {kind!r} "
                                "message); it was stopped.")
        raise AssertionError("unreachable")

    def _flood_reason(self, what: str) -> str:
        return (f"The submission's process printed more than {self.limits.output_bytes >> 20} MiB of output "
                f"during {what}; it was stopped.")

    def _fail(self, child: _Child, what: str, reason: str) -> typing.NoReturn:
        child.stop()
        if self._child is child:
            self._child = None
        self._failures.append(reason)
        tail = child.log.tail(self.limits.log_tail_chars)
        raise StudentCodeError(reason + (f"\nThe end of its output:\n{tail}" if tail.strip(". \n") else ""))

    # -- the child

    def start(self) -> None:
        """Start the child now without waiting for it: it imports torch while the caller goes on
        (the first call waits for it). Optional: calls start the child when there is none."""
        with self._lock:
            if self._child is None and self.path.exists():
                try:
                    self._spawn()
                except LoadError:
                    pass  # reported by the first call

    def _spawn(self) -> _Child:
        if self._inside is None:
            try:
                mount_dir, self._inside = sandbox.stage_submission(self.path, self._staging / "submission",
                                                                   self.limits.submission_bytes)
            except OSError as exc:
                raise LoadError(f"The submission could not be copied into the sandbox: {exc}") from None
            self._mount_dir = mount_dir
        options = {"submission": self._inside, "definitions_only": self.definitions_only,
                   "caps": asdict(self.limits.caps)}
        flags = ["-s", "-B"] + (["-P"] if sys.version_info >= (3, 11) else [])
        threads = self.limits.threads or _torch_threads()
        uid = sandbox.allocate_uid()
        spec = sandbox.ChildSpec(
            argv=[sys.executable, *flags, "-m", "cnngrade.isolated.child", json.dumps(options)],
            env=sandbox.child_env(threads, self.limits.gpu),
            mounts=sandbox.child_mounts(self._mount_dir, self.limits.tmp_size, self.limits.shm_size,
                                        self.limits.gpu),
            rlimits=sandbox.base_rlimits(
                uid=uid, address_space=None if self.limits.gpu else self.limits.address_space,
                cpu_seconds=self.limits.cpu_seconds, file_size=self.limits.file_size,
                open_files=self.limits.open_files, processes=self.limits.processes + threads),
            uid=uid,
        )
        child = _Child(self.sandbox.command(spec, self._staging), self.limits,
                       uid=uid if os.geteuid() == 0 else None)
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, [child], self._staging)
        self._child = child
        return child

    def _ensure_child(self, budget_end: float) -> _Child:
        """A child that has greeted the parent (started now if there is none, or it died)."""
        child = self._child
        if child is not None and child.proc.poll() is not None:
            if child.ready:  # it died between two calls (a thread of the student's, say): that counts too
                self._failures.append(f"The submission's process {child.ended()} between two calls.")
            child.stop()
            child = self._child = None
            if len(self._failures) > self.limits.max_restarts:
                raise StudentCodeError(
                    f"The submission's process failed {len(self._failures)} times, so it is not started again. "
                    f"The last time: {self._failures[-1]}"
                )
        if child is None:
            child = self._spawn()
        if child.ready:
            return child
        startup_end = child.started + self.limits.startup_timeout
        deadline = min(startup_end, budget_end)
        try:
            kind, _ = child.exchange(None, deadline)
            if kind != "hello":
                raise protocol.ProtocolError(f"a {kind!r} message instead of its greeting")
        except protocol.ProtocolError as exc:
            child.stop()
            self._child = None
            tail = child.log.tail(self.limits.log_tail_chars)
            if isinstance(exc, protocol.ChannelTimeout) and budget_end < startup_end:
                raise StudentCodeError(
                    f"The submission used up its time budget of {self.limits.submission_timeout:g} s."
                ) from None
            why = (f"did not start within {self.limits.startup_timeout:g} s" if isinstance(exc, protocol.ChannelTimeout)
                   else f"{child.ended()} before any submission code ran" if isinstance(exc, protocol.ChannelClosed)
                   else f"broke the protocol ({exc})")
            raise SandboxError(f"The sandboxed child process ({self.sandbox.description}) {why}.\n{tail}") from None
        child.ready = True
        return child

    def close(self) -> None:
        """Stop the child and delete the sandbox's copy of the submission."""
        with self._lock:
            if self._child is not None:
                self._child.stop()
                self._child = None
            self._finalizer()


def _torch_threads() -> int:
    try:
        import torch

        return max(1, int(torch.get_num_threads()))
    except Exception:
        return 1


def _cleanup(children: list, staging: Path) -> None:
    for child in children:
        if child is not None:
            child.stop()
    shutil.rmtree(staging, ignore_errors=True)


def _forwarder(name: str) -> Callable[..., Any]:
    abstract = getattr(Submission, name)

    def forward(self: IsolatedSubmission, *args: Any, **kwargs: Any) -> Any:
        return self._request(name, args, kwargs)

    functools.update_wrapper(forward, abstract)
    forward.__isabstractmethod__ = False  # type: ignore[attr-defined]
    return forward


for _name in sorted(protocol.METHODS):
    if _name not in IsolatedSubmission.__dict__:
        setattr(IsolatedSubmission, _name, _forwarder(_name))
abc.update_abstractmethods(IsolatedSubmission)
