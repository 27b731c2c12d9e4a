"""Grading runs forked from a warm process instead of started afresh.

A fresh ``python -m cnngrade grade`` spends about 3 s of CPU importing torch, pytest, Hypothesis and
cnngrade before it grades anything: most of a cheap grading's cost, once per student in a batch (and
once per grading run in cnngrade's own tests). A :class:`WarmRunner` starts one server (``python -m
cnngrade.batch.warm SOCKET OWNER_PID``) that imports all that once; for each run it forks a waiter, which forks
the run (``pytest.main(argv)`` or ``cnngrade.commands.main(argv)``, in the run's working directory,
with the run's environment, its stdout and stderr in files, in a session of its own) and answers with
the run's pid, then its exit status. A forked run is the same code on the same arguments as a fresh
process: the server imports modules but calls nothing that caches (sandbox detection, cgroups, lab
files), and the run sets torch's thread count from its own environment (:func:`cnngrade.threads.apply`).
A run that outlives its timeout is killed with its whole process group; one that crashes ends alone:
the server and the other runs go on.

Nothing outlives its owner: the server ends when the process that started it ends (even by SIGKILL:
its parent-death signal), its waiters and runs end with it, and each removes what it made (a run's
temporary files, the socket's folder).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cnngrade import threads

#: the commands a run may be: ``python -m MODULE ARGV``
MODULES = ("pytest", "cnngrade")
PR_SET_PDEATHSIG = 1


class WarmRunner:
    """The client: :meth:`run` has :func:`subprocess.run`'s answer for ``[python, -m, MODULE, *argv]``."""

    def __init__(self) -> None:
        self._directory = tempfile.mkdtemp(prefix="cnngrade-warm-")
        self.address = os.path.join(self._directory, "socket")
        root = Path(__file__).resolve().parents[2]
        self._server = subprocess.Popen([sys.executable, "-m", "cnngrade.batch.warm", self.address, str(os.getpid())],
                                        cwd=root, stdin=subprocess.DEVNULL, start_new_session=True)
        self._ready = threading.Event()
        self._lock = threading.Lock()

    def _wait_ready(self, timeout: float = 120) -> None:
        with self._lock:
            if self._ready.is_set():
                return
            for _ in range(int(timeout * 20)):
                if os.path.exists(self.address + ".ready"):
                    self._ready.set()
                    return
                if self._server.poll() is not None:
                    raise RuntimeError(f"the warm pytest server ended (exit status {self._server.returncode})")
                time.sleep(0.05)
            raise RuntimeError("the warm pytest server did not start")

    def run(self, command: Sequence[str], *, cwd: Path | str, env: Mapping[str, str] | None,
            timeout: float) -> subprocess.CompletedProcess:
        """Run ``command`` (``[python, -m, pytest|cnngrade, ...]``) forked from the server, in ``cwd`` (made
        absolute here: the server's working directory is not this process's); its stdout and stderr
        captured as text."""
        if list(command[:2]) != [sys.executable, "-m"] or command[2] not in MODULES:
            raise ValueError(f"not a warm command: {command[:3]}")
        self._wait_ready()
        with tempfile.TemporaryDirectory(prefix="output-", dir=self._directory) as scratch:  # gone with the server
            out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
            request = {"module": command[2], "argv": list(command[3:]), "cwd": os.path.abspath(cwd),
                       "env": dict(os.environ if env is None else env), "stdout": str(out), "stderr": str(err)}
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(timeout)
                connection.connect(self.address)
                connection.sendall(json.dumps(request).encode() + b"\n")
                replies, pid, deadline = connection.makefile(), None, time.monotonic() + timeout
                try:
                    pid = json.loads(replies.readline())["pid"]
                    connection.settimeout(max(deadline - time.monotonic(), 0.001))
                    reply = json.loads(replies.readline())
                except TimeoutError:
                    self._kill(pid)
                    raise subprocess.TimeoutExpired(list(command), timeout, _read(out).encode(),
                                                    _read(err).encode()) from None
            return subprocess.CompletedProcess(list(command), reply["code"], _read(out), _read(err))

    @staticmethod
    def _kill(pid: int | None) -> None:
        """Kill the run ``pid`` and every process of its group (its session's)."""
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> WarmRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the server (its waiters and runs end with it) and remove its socket's folder."""
        self._server.terminate()
        try:
            self._server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()
        shutil.rmtree(self._directory, ignore_errors=True)


def _read(path: Path) -> str:
    """A run's captured output; empty where the run ended before it opened its files."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


# --------------------------------------------------------------------------- the server


def _die_with_parent(parent: int | None = None, sig: int = signal.SIGKILL) -> None:
    """Be sent ``sig`` when the parent process ends (a batch killed by SIGKILL leaves no run behind).
    With ``parent`` (the pid that started this process): exit at once if it has already ended, before
    the signal was asked for (it is asked only now, after the server's imports)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        sys.exit(0)


def _run(request: dict) -> int:
    """In the forked run: become the command the request describes; its exit status. Its temporary
    files go to ``request["tmp"]`` (``$TMPDIR``), which its waiter removes when it ends: a run ends
    with ``os._exit``, so ``atexit`` clean-ups (the sandbox's staged package) would never run."""
    os.setsid()  # a process group of its own, killed whole on a timeout
    _die_with_parent()
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"], TMPDIR=request["tmp"])
    tempfile.tempdir = None  # the server's may be cached
    threads.apply()  # torch was imported under the server's environment
    sys.argv = [request["module"], *request["argv"]]
    sys.path[0] = request["cwd"]  # as `python -m` puts its working directory first
    if request["module"] == "pytest":
        import pytest

        code = int(pytest.main(request["argv"]))
    else:
        from cnngrade.commands import main

        code = main(request["argv"])
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _wait_and_answer(connection: socket.socket, scratch: str) -> None:
    """In a waiter: fork the run (its temporary files in a folder of ``scratch``), answer with its pid,
    wait for it, remove its temporary files, answer with its exit status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _die_with_parent()
    request = json.loads(connection.makefile().readline())
    request["tmp"] = tempfile.mkdtemp(prefix="run-", dir=scratch)
    pid = os.fork()
    if pid == 0:
        connection.close()
        code = 1
        try:
            code = _run(request)
        finally:
            os._exit(code)
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    shutil.rmtree(request["tmp"], ignore_errors=True)
    connection.sendall(json.dumps({"code": status}).encode() + b"\n")


def _end(_signal: int, _frame: object) -> None:
    raise SystemExit(0)


def serve(address: str, parent: int) -> None:
    """Import what grading runs need, then fork a waiter per request on the socket ``address`` until
    ``parent`` (the client's pid) ends or asks the server to end (SIGTERM); then remove the socket's
    folder. Waiters and runs end with the server (their parent-death signal)."""
    import hypothesis  # noqa: F401 - everything a grading run imports, once
    import nbformat  # noqa: F401
    import pytest  # noqa: F401
    import torch  # noqa: F401

    import cnngrade.commands.grade  # noqa: F401
    import cnngrade.grader.plugin  # noqa: F401

    signal.signal(signal.SIGTERM, _end)
    try:
        _die_with_parent(parent, signal.SIGTERM)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # waiters are reaped by the kernel
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(address)
            listener.listen(16)
            Path(address + ".ready").touch()
            while True:
                connection, _ = listener.accept()
                if os.fork() == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    listener.close()
                    try:
                        _wait_and_answer(connection, os.path.dirname(address))
                    finally:
                        os._exit(0)
                connection.close()
    finally:
        shutil.rmtree(os.path.dirname(address), ignore_errors=True)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
