"""The grading process's side of the fork server (:mod:`.forkserver`): start it, ask it for children.

One :class:`ForkServer` per child environment serves every child of a grading run: the first
costs the server's ``import torch``, the others a ``fork`` (milliseconds instead of seconds).
:meth:`ForkServer.spawn` returns a :class:`ForkedProcess`, which stands for the forked child as
:class:`subprocess.Popen` does for one the grading process started itself (``pid``, ``poll``,
``wait``, ``kill``): the server, its parent, reports how it ended. Imports no torch.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence

from cnngrade.submission.isolated.forkserver import MAX_MESSAGE


class ForkServerError(RuntimeError):
    """The fork server could not be started, or could not fork a child."""


class ForkedProcess:
    """A child the fork server forked: ``pid`` (its process group too), and how it ended."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended = threading.Event()

    def _end(self, status: int) -> None:
        self.returncode = status
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"forked child {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        """SIGKILL its process group (the sandbox's processes), unless it has ended (its pid may be reused)."""
        if not self._ended.is_set():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass


class ForkServer:
    """A running :mod:`.forkserver` process with ``env`` as its (and its children's) environment."""

    def __init__(self, env: Mapping[str, str], preload: str = "child") -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._stderr = tempfile.TemporaryFile()  # what it says when it cannot start (a module it cannot import)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-s", "-B", *(["-P"] if sys.version_info >= (3, 11) else []),
                 "-m", "cnngrade.submission.isolated.forkserver", preload, str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stderr=self._stderr, pass_fds=(theirs.fileno(),), env=dict(env), cwd="/",
                start_new_session=True,
            )
        finally:
            theirs.close()
        self._socket = ours
        self._lock = threading.Lock()
        self._replies: list[dict] = []
        self._reply = threading.Condition()
        self._children: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}
        self._ready = threading.Event()  # set once the server has imported what it preloads
        self._reader = threading.Thread(target=self._read_notices, name="cnngrade-fork-server", daemon=True)
        self._reader.start()

    def _read(self) -> dict | None:
        try:
            data = self._socket.recv(MAX_MESSAGE)
        except OSError:
            return None
        return json.loads(data) if data else None

    def _read_notices(self) -> None:
        if self._read() == {"ready": True}:
            self._ready.set()
        while self._ready.is_set() and (message := self._read()) is not None:
            if "exited" in message:
                with self._lock:
                    child = self._children.pop(message["exited"], None)
                    if child is None:  # ended before spawn() registered it
                        self._early_exits[message["exited"]] = message["status"]
                if child is not None:
                    child._end(message["status"])
            else:
                with self._reply:
                    self._replies.append(message)
                    self._reply.notify_all()
        with self._lock:  # the server ended: so did every child it had (killed with their group below)
            children, self._children = list(self._children.values()), {}
        for child in children:
            child.kill()
            child._end(-signal.SIGKILL)
        with self._reply:
            self._replies.append({"error": f"the fork server ended (exit status {self.proc.wait()})"})
            self._reply.notify_all()
        self._ready.set()

    def spawn(self, spec: Mapping, fds: Sequence[int], timeout: float = 120) -> ForkedProcess:
        """Fork a child for ``spec`` (:mod:`.forkserver`) with ``fds`` (requests, answers, log) as its 0, 1, 2;
        waits for the server to be ready (it imports torch once, seconds)."""
        if not self._ready.wait(timeout):
            raise ForkServerError(f"the fork server did not start within {timeout:g} s (the machine may be busy)")
        with self._reply:
            try:
                socket.send_fds(self._socket, [json.dumps({"spawn": dict(spec)}).encode()], list(fds))
            except OSError as exc:
                raise ForkServerError(f"the fork server is gone ({exc}){self._said()}") from None
            if not self._reply.wait_for(lambda: self._replies, timeout):
                raise ForkServerError(f"the fork server did not answer within {timeout:g} s (the machine may be busy)")
            reply = self._replies.pop(0)
        if "pid" not in reply:
            raise ForkServerError(f"the fork server could not fork a child: {reply.get('error')}{self._said()}")
        child = ForkedProcess(reply["pid"])
        with self._lock:
            self._children[child.pid] = child
            status = self._early_exits.pop(child.pid, None)
        if status is not None:
            with self._lock:
                self._children.pop(child.pid, None)
            child._end(status)
        return child

    def alive(self) -> bool:
        return self.proc.poll() is None and self._reader.is_alive()

    def _said(self, limit: int = 600) -> str:
        """``": "`` and the end of what the server wrote to stderr, if anything (why it ended)."""
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - limit))
        text = " / ".join(self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-4:])
        return f": {text}" if text else ""

    def close(self) -> None:
        """Stop the server (its children are stopped by their own :class:`~.process.Child`)."""
        try:
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the reader thread: close() alone would not
        except OSError:
            pass
        try:
            self._socket.close()
        finally:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_servers: dict[tuple[tuple[str, str], ...], ForkServer] = {}
_servers_lock = threading.Lock()


def server_for(env: Mapping[str, str]) -> ForkServer:
    """The fork server of this process for children with environment ``env`` (started on first use)."""
    key = tuple(sorted(env.items()))
    with _servers_lock:
        server = _servers.get(key)
        if server is None or not server.alive():
            server = _servers[key] = ForkServer(env)
        return server


@atexit.register
def stop_servers() -> None:
    with _servers_lock:
        while _servers:
            _servers.popitem()[1].close()
