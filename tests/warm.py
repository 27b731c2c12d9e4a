"""Grading runs of the test suite, forked from a warm process instead of started afresh.

Each corpus group (tests/corpus.py) is one ``python -m pytest graders ...`` run (or one
``python -m cnngrade grade ...``): a fresh interpreter that spends about 3 s of CPU importing torch,
pytest, Hypothesis and cnngrade before it grades anything, some 35 times a session. A
:class:`WarmRunner` starts one server (``python -m tests.warm SOCKET``) that imports all that once;
for each run it forks a waiter, which forks the run (``pytest.main(argv)`` or
``cnngrade.commands.main(argv)``, in the run's working directory, with the run's environment and its
stdout and stderr in files) and answers with its exit status. A forked run is the same code on the
same arguments as a fresh process: the server imports modules but calls nothing that caches
(sandbox detection, cgroups, lab files). Runs whose behaviour depends on a fresh interpreter
(the plugin's import cost, ``-p no:`` of cnngrade's entry point) use subprocesses directly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

#: the commands a run may be: ``python -m MODULE ARGV``
MODULES = ("pytest", "cnngrade")


class WarmRunner:
    """The client: :meth:`run` has :func:`subprocess.run`'s answer for ``[python, -m, MODULE, *argv]``."""

    def __init__(self) -> None:
        self._directory = tempfile.mkdtemp(prefix="cnngrade-warm-")
        self.address = os.path.join(self._directory, "socket")
        root = Path(__file__).resolve().parents[1]
        self._server = subprocess.Popen([sys.executable, "-m", "tests.warm", self.address], cwd=root,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
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
        """Run ``command`` (``[python, -m, pytest|cnngrade, ...]``) forked from the server; its stdout and
        stderr captured as text."""
        if list(command[:2]) != [sys.executable, "-m"] or command[2] not in MODULES:
            raise ValueError(f"not a warm command: {command[:3]}")
        self._wait_ready()
        with tempfile.TemporaryDirectory(prefix="cnngrade-run-") as scratch:
            out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
            request = {"module": command[2], "argv": list(command[3:]), "cwd": str(cwd),
                       "env": dict(os.environ if env is None else env), "stdout": str(out), "stderr": str(err)}
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(timeout)
                connection.connect(self.address)
                connection.sendall(json.dumps(request).encode() + b"\n")
                try:
                    reply = json.loads(connection.makefile().readline())
                except TimeoutError:
                    raise subprocess.TimeoutExpired(list(command), timeout) from None
            return subprocess.CompletedProcess(list(command), reply["code"], out.read_text(errors="replace"),
                                               err.read_text(errors="replace"))

    def close(self) -> None:
        self._server.terminate()
        try:
            self._server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._server.kill()


# --------------------------------------------------------------------------- the server


def _run(request: dict) -> int:
    """In the forked run: become the command the request describes; its exit status."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
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


def _wait_and_answer(connection: socket.socket) -> None:
    """In a waiter: fork the run, wait for it, answer with its exit status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    request = json.loads(connection.makefile().readline())
    pid = os.fork()
    if pid == 0:
        connection.close()
        code = 1
        try:
            code = _run(request)
        finally:
            os._exit(code)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    connection.sendall(json.dumps({"code": status}).encode() + b"\n")


def serve(address: str) -> None:
    import hypothesis  # noqa: F401 - everything a grading run imports, once
    import nbformat  # noqa: F401
    import pytest  # noqa: F401
    import torch  # noqa: F401

    import cnngrade.commands.grade  # noqa: F401
    import cnngrade.grader.plugin  # noqa: F401

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # waiters are reaped by the kernel
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(address)
        listener.listen(16)
        Path(address + ".ready").touch()
        while True:
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                try:
                    _wait_and_answer(connection)
                finally:
                    os._exit(0)
            connection.close()


if __name__ == "__main__":
    serve(sys.argv[1])
