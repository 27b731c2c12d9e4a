"""The isolated backend: the submission runs in a sandboxed child process.

:class:`IsolatedSubmission` implements every method of :class:`cnngrade.submission.handle.Submission` by
sending a request frame (:mod:`.protocol`) to a child started in a sandbox (:mod:`.sandbox`, :mod:`.process`)
and decoding its answer as untrusted data: values are rebuilt from bytes, checked against the method's
return annotation, and never unpickled. The forwarding methods are generated from the ``Submission``
ABC, so a method added there is forwarded with no code here; only the abstract methods of
``Submission`` can be requested (the child checks too).

The grading process keeps the clock: each call has a wall-clock timeout, the submission a total
budget; a child that crashes, exits, hangs, floods its output or answers with malformed data is
killed from outside (its whole process group, and with it the sandbox's PID namespace), and
*that* call raises a :class:`~cnngrade.submission.errors.SubmissionError` explaining why, with the end of the
child's output. The next call starts a fresh child, up to ``Limits.max_restarts`` times.
"""

from __future__ import annotations

import abc
import functools
import inspect
import threading
import time
import typing
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnngrade.lab.parts import Parts
from cnngrade.submission.errors import LoadError, MachineFault, StudentCodeError
from cnngrade.submission.handle import Submission
from cnngrade.submission.isolated import cgroups, import_path, launch, protocol, sandbox
from cnngrade.submission.isolated.limits import Caps, Limits
from cnngrade.submission.isolated.process import Child


class SandboxError(MachineFault):
    """The sandbox failed through no fault of the submission (it could not start, or cannot import a
    module installed on this machine): a problem of the grading machine, which stops the grading."""


def _call_description(method: str, arguments: dict[str, Any]) -> str:
    """How feedback names a call: ``Net.forward on a batch of shape (64, 1, 28, 28)``."""
    x = arguments.get("x")
    shape = f" on a batch of shape {tuple(x.shape)}" if hasattr(x, "shape") else ""
    if method == "build_net":
        return "Net()"
    if method in ("forward", "run_with_state"):
        return f"Net.forward{shape}"
    if method == "gradients":
        return f"Backpropagating through Net{shape}"
    if method == "call":
        return f"{arguments.get('name')}()"
    if method == "op_graph":
        return f"Tracing {arguments.get('name')}() to torch operators"
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
    """A :class:`~cnngrade.submission.handle.Submission` whose code runs in a sandboxed child process.

    Raises :class:`~cnngrade.submission.isolated.sandbox.SandboxUnavailable` when this machine offers no
    sandbox (it never falls back to running the code unsandboxed).
    """

    def __init__(self, path: Path, *, definitions_only: bool = True, limits: Limits | None = None,
                 parts: Parts | None = None) -> None:
        super().__init__(Path(path), parts)
        self.definitions_only = definitions_only
        self.limits = limits if limits is not None else Limits.from_env()
        self.sandbox = sandbox.detect()
        self._child: Child | None = None
        self._failures: list[str] = []
        self._used = 0.0
        self._lock = threading.Lock()
        early = launch.adopt(self.path, definitions_only=definitions_only, limits=self.limits, parts=self.parts)
        if early is None:
            self._launcher = launch.Launcher(self.path, definitions_only=definitions_only, limits=self.limits,
                                             box=self.sandbox, parts=self.parts)
        else:
            self._launcher, self._child = early
        self._finalizer = weakref.finalize(self, _cleanup, [self._child], self._launcher)

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
            kind, value = _exchange_frames(child, frame, time.monotonic() + timeout, self.limits.caps)
            child.pause()
            if child.out_of_memory():
                self._fail(child, what, "")  # which says: out of memory
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
            error = protocol.make_error(value["type"], value["message"], value.get("fields"))
            if isinstance(error, StudentCodeError) and error.missing_module:
                self._check_import(error.missing_module, what)
            raise error
        self._fail(child, what, f"The submission's process sent a malformed answer to {what} (a {kind!r} "
                                "message); it was stopped.")
        raise AssertionError("unreachable")

    def _check_import(self, module: str, what: str) -> None:
        """Raise :class:`SandboxError` if ``module`` is installed where the sandbox shows the grader's Python
        and a clean child of this sandbox (no submission in it) cannot import it either: then the grading
        machine's Python is at fault, not the submission (which may also have raised the error itself)."""
        if not import_path.installed(module, sandbox.python_dirs()):
            return  # not installed where the sandbox looks: the submission's import to fix
        problem = sandbox.import_problem(self.sandbox, module)
        if problem is not None:
            raise SandboxError(
                f"{what} failed because the sandbox cannot import the module {module!r}, and a sandboxed Python "
                f"with no submission in it cannot either ({problem}). This is a problem of the grading machine's "
                "Python environment, not of the submission: the grading stops here. Check that the module is "
                "installed where the grader's Python finds it (its prefix, a .pth file, PYTHONPATH or the user "
                "site), then grade again.")

    def _flood_reason(self, what: str) -> str:
        return (f"The submission's process printed more than {self.limits.output_bytes >> 20} MiB of output "
                f"during {what}; it was stopped.")

    def _fail(self, child: Child, what: str, reason: str) -> typing.NoReturn:
        if child.out_of_memory():  # whatever else happened, the kernel killed a process of it: that is why
            reason = (f"{what} was stopped: the submission's processes together used more memory than their limit "
                      f"of {cgroups.size(self.limits.memory)}, so the kernel killed one of them.")
        elif child.overfilled():  # the landlock tier's private folder grew past its limit
            reason = f"{what} was stopped: {child.overfilled()}."
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

    def _spawn(self) -> Child:
        child = self._launcher.spawn()
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, [child], self._launcher)
        self._child = child
        return child

    def _ensure_child(self, budget_end: float) -> Child:
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
            kind, _ = _exchange_frames(child, None, deadline, self.limits.caps)
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


def _exchange_frames(child: Child, frame: bytes | None, deadline: float, caps: Caps) -> tuple[str, object]:
    """Send ``frame`` (if any) to the child and read its answer, both by ``deadline``."""
    if frame is not None:
        protocol.write_frame(child.requests, frame, deadline)
    return protocol.read_frame(child.answers, caps, deadline)


def _cleanup(children: list, launcher: launch.Launcher) -> None:
    for child in children:
        if child is not None:
            child.stop()
    launcher.close()


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
