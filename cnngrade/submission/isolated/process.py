"""One sandboxed child process, seen from the grading process: start, pause, resume, kill.

:class:`Child` holds the process that the sandbox's command line started, its request and answer
pipes, and :class:`OutputLog`, which drains its stdout + stderr and keeps only the end (for feedback),
calling back when the output passes its cap. Where cgroups can be made (:mod:`.cgroups`), the child
runs in a cgroup of its own, which caps the memory and tasks of all its processes together: between
calls :meth:`Child.pause` freezes it and :meth:`Child.resume` thaws it, and :meth:`Child.kill` kills
every process in it. Elsewhere :meth:`Child.pause` stops every process of the sandbox by signals (its
process group, its PID namespace, and where root gave it a uid of its own, that uid's processes);
:meth:`Child.resume` continues them; :meth:`Child.kill` ends them all. What crosses
its pipes is :mod:`.protocol`'s business: this module imports no torch, so that a grading process can
start a child before it imports torch itself (:mod:`.launch`).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from cnngrade.submission.errors import MachineFault
from cnngrade.submission.isolated import cgroups
from cnngrade.submission.isolated.limits import Limits
from cnngrade.submission.isolated.unprivileged import FolderWatch
from cnngrade.submission.isolated.zygote import ForkedProcess, ForkServer, ForkServerError

#: the only environment variable of the sandbox's launcher
WRAPPER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

class OutputLog:
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


class Child:
    """One sandboxed child process and its pipes."""

    def __init__(self, argv: list[str], limits: Limits, uid: int | None = None, tasks: int | None = None,
                 server: ForkServer | None = None, spec: dict | None = None) -> None:
        """Start ``argv`` (or, given a fork server, fork the child ``spec`` describes: :mod:`.forkserver`);
        ``tasks``: the processes and threads its cgroup allows (default ``limits.processes``)."""
        #: the child's cgroup (None where cgroups are unavailable): its first process joins it before exec
        self.cgroup: cgroups.Cgroup | None = None
        if not isinstance(found := cgroups.hierarchy(), str):
            self.cgroup = cgroups.Cgroup(found, limits.memory, tasks or limits.processes)
        log_read, log_write = os.pipe()
        self._pipes: list[int] = []  # our ends of a forked child's pipes
        try:
            if server is not None:
                self.proc: subprocess.Popen | ForkedProcess = self._fork(server, dict(spec or {}), log_write)
            else:
                self.proc = subprocess.Popen(
                    self.cgroup.command(argv) if self.cgroup else argv, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=log_write, close_fds=True, env={"PATH": WRAPPER_PATH},
                    start_new_session=True, cwd="/",
                )
                assert self.proc.stdin is not None and self.proc.stdout is not None
                self._pipes = [self.proc.stdin.fileno(), self.proc.stdout.fileno()]
        except BaseException:
            os.close(log_read)
            if self.cgroup:
                self.cgroup.remove()
            raise
        finally:
            os.close(log_write)
        self.requests, self.answers = self._pipes
        os.set_blocking(self.requests, False)
        os.set_blocking(self.answers, False)
        self.log = OutputLog(log_read, limits.output_bytes, self.kill)
        watch = (spec or {}).get("watch")  # the landlock tier's private folder, on the host's disk
        self.watch = FolderWatch(watch["path"], watch["bytes"], watch["entries"], self.kill) if watch else None
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

    def _fork(self, server: ForkServer, spec: dict, log_write: int) -> ForkedProcess:
        """Fork the child through ``server``, joined to the cgroup, with new pipes; keep our ends."""
        requests_read, requests_write = os.pipe()
        answers_read, answers_write = os.pipe()
        spec["cgroup_procs"] = self.cgroup.procs_files() if self.cgroup else []
        try:
            forked = server.spawn(spec, [requests_read, answers_write, log_write])
        except BaseException as exc:
            for fd in (requests_write, answers_read):
                os.close(fd)
            if isinstance(exc, ForkServerError):
                raise MachineFault(f"The sandbox's fork server failed: {exc}") from None
            raise
        finally:
            os.close(requests_read)
            os.close(answers_write)
        self._pipes = [requests_write, answers_read]
        return forked

    def kill(self) -> None:
        """SIGKILL every process of its cgroup, and the sandbox's process group (its PID namespace dies with it)."""
        if self.cgroup:
            self.cgroup.kill()
        self._signal(signal.SIGKILL)
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
        In a cgroup, all this is one write: its freezer stops every process in it, forks included.
        """
        if self.cgroup:
            self.cgroup.freeze()
            return
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
        """SIGCONT the process group and every process that pause() stopped outside it (or thaw its cgroup)."""
        if self.cgroup:
            self.cgroup.thaw()
            return
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
                if isinstance(self.proc, ForkedProcess) and self.proc.poll() is not None:
                    return  # ended and reaped by the fork server: its pid may be another process's now
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

    def overfilled(self) -> str | None:
        """Why its private folder's watch stopped it (:class:`.unprivileged.FolderWatch`), or None."""
        return self.watch.exceeded if self.watch is not None else None

    def out_of_memory(self) -> bool:
        """Whether the kernel killed one of its processes because they used more than its memory limit."""
        return self.cgroup is not None and self.cgroup.oom_kills() > 0

    def stop(self) -> None:
        self.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.watch is not None:
            self.watch.stop()
        if self.cgroup:
            self.cgroup.remove()
        if self._namespace is not None:
            os.close(self._namespace[0])
            self._namespace = None
        if isinstance(self.proc, subprocess.Popen):
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()  # type: ignore[union-attr]
                except OSError:
                    pass
        else:
            for fd in self._pipes:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.log.thread.join(timeout=5)

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
