"""The fork server: ``python -s -B -P -m cnngrade.submission.isolated.forkserver PRELOAD FD``.

Starting a child costs seconds of ``import torch``; a class of submissions pays it once per
child. The fork server, a trusted process that runs no student code, imports the child's modules
once (``PRELOAD`` = ``"child"``; ``"none"`` for a trial run), then forks a sandboxed child per
request of the grading process (:mod:`.zygote`), which talks to it over a Unix ``SOCK_SEQPACKET``
socket (descriptor ``FD``), one JSON object a packet:

* request: ``{"spawn": SPEC}`` with three descriptors: the child's requests (read end), answers
  (write end) and output log (write end); answer: ``{"pid": PID}`` or ``{"error": TEXT}``;
* notice, whenever a child ends: ``{"exited": PID, "status": CODE}`` (``-N``: killed by signal N).

Each spawn forks ``F``, which starts a session of its own, joins the child's cgroups, and unshares
mount, PID, network, IPC and UTS namespaces (and a user namespace, mapped to root, for an ordinary
user); ``F`` forks ``G``, pid 1 of the new PID namespace, which builds the sandbox's file system as
:mod:`.nsinit` does for the ``unshare`` sandbox (a new root of read-only binds, pivot_root, a fresh
``/proc``), drops to the sandbox's uid (or every capability), forbids new user namespaces (as
bubblewrap's ``--disable-userns``), clears its capability sets (no exec will), sets the rlimits,
closes every descriptor but the three and forks the child, pid 2, which serves :func:`.child.main` with
the modules already imported, while ``G`` reaps orphans as bubblewrap's pid 1 does.
``F`` waits for ``G`` and ends the way ``G`` ended. In the ``landlock`` tier (no namespace can be made:
:mod:`.unprivileged`) ``F`` makes none: ``G`` confines itself (uid, no_new_privs, rlimits, Landlock,
seccomp) and serves the child, and ``F``, its subreaper, reaps and ends what it leaves. Each dies with
its parent; and when the grading process ends without stopping its children (killed), the server
thaws, kills and reaps them. A
forked child inherits only the server's memory: torch and cnngrade's modules, never a grader's data
(the server never sees any).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time

from cnngrade.submission.isolated import nsinit, unprivileged

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
#: prlimit's option names (:func:`.sandbox.base_rlimits`) as resource limits
RLIMITS = {"cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE,
           "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE, "as": resource.RLIMIT_AS}
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
#: the largest request (a spec lists some dozens of mounts)
MAX_MESSAGE = 1 << 20


def _die_with_parent() -> None:
    """SIGKILL this process when its parent ends (bubblewrap's ``--die-with-parent``)."""
    nsinit.check(nsinit.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def _unshare(flags: int) -> None:
    nsinit.check(nsinit.libc.unshare(flags), "unshare")


def _map_ids(inside: tuple[int, int], outside: tuple[int, int]) -> None:
    """In a new user namespace: be uid / gid ``inside`` there, mapped to ``outside`` (uid, gid) outside."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{inside[0]} {outside[0]} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{inside[1]} {outside[1]} 1")


def _package_seen_inside(outside: str, inside: str) -> None:
    """Point ``sys.path`` and the imported cnngrade packages at the copy of the package the sandbox
    mounts (``inside``) instead of the server's (``outside``, not in the sandbox), so that a module
    imported later is found as in any other sandbox."""
    swap = lambda path: inside + path[len(outside):] if path == outside or path.startswith(outside + "/") else path  # noqa: E731
    sys.path[:] = [swap(p) for p in sys.path]
    for name, module in list(sys.modules.items()):
        if (name == "cnngrade" or name.startswith("cnngrade.")) and hasattr(module, "__path__"):
            module.__path__[:] = [swap(p) for p in module.__path__]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _no_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets (no exec follows that would)."""
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3
    nsinit.check(nsinit.libc.capset(ctypes.byref(header), data), "capset")


def _no_more_user_namespaces(spec: dict) -> None:
    """Forbid new user namespaces, as bubblewrap's ``--disable-userns`` does: in a user namespace of
    the sandbox's own (for root, made now, its uid mapped to itself), ``max_user_namespaces`` = 0."""
    if spec["drop"] == "setuid":
        nsinit.libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # setuid made /proc/self root's; make it ours again
        _unshare(CLONE_NEWUSER)
        _map_ids((spec["uid"], spec["gid"]), (spec["uid"], spec["gid"]))
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")


def _serve_child(spec: dict, fds: list[int]) -> None:
    """In ``G``: build the sandbox, then serve the child (never returns)."""
    nsinit.mount(None, "/", None, nsinit.MS_REC | nsinit.MS_PRIVATE)
    nsinit.build(spec["root"], spec["mounts"])
    try:
        socket.sethostname("sandbox")
    except OSError:
        pass
    nsinit.pivot(spec["root"])
    nsinit.drop_privileges(spec)
    _no_more_user_namespaces(spec)
    _no_capabilities()
    os.chdir(spec["cwd"])
    for name, value in spec["rlimits"].items():
        resource.setrlimit(RLIMITS[name], (value, value))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(3, 1 << 16)
    os.environ.clear()
    os.environ.update(spec["env"])
    pid = os.fork()
    if pid == 0:
        _run_child(spec)
    nsinit.libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the child may not read our /proc (the server's environment)
    _init(pid)


def _init(child: int) -> None:
    """pid 1 of the sandbox, as bubblewrap's: reap every orphan until ``child`` ends, then end with
    its status (128 + N where a signal N killed it: pid 1 cannot end by a signal of its own)."""
    os.closerange(0, 3)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(125)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def _run_child(spec: dict) -> None:
    """pid 2 of the sandbox: the child (or a trial run's check), with the modules already imported."""
    if "check" in spec:  # a trial run (sandbox.probe)
        try:
            exec(compile(spec["check"], "<check>", "exec"), {})  # noqa: S102 - the grading process's own code
        except SystemExit as exc:
            os._exit(exc.code if isinstance(exc.code, int) else 1)
        os._exit(0)
    _package_seen_inside(*spec["package"])
    from cnngrade.submission.isolated import child

    sys.argv = ["child", spec["options"]]
    try:
        child.main(sys.argv)
    except BaseException as exc:  # noqa: BLE001 - as the child's own __main__ does
        try:
            os.write(2, f"cnngrade child: {child._message(exc)}\n".encode())
        finally:
            os._exit(70)
    os._exit(0)


def _run_in_namespaces(spec: dict, fds: list[int]) -> int:
    """In ``F``: make the namespaces, fork ``G`` into them, wait for it; its exit code."""
    user = spec["drop"] != "setuid"
    uid, gid = os.getuid(), os.getgid()
    _unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
             | (CLONE_NEWUSER if user else 0))
    if user:
        _map_ids((0, 0), (uid, gid))  # root of the new namespace
    pid = os.fork()
    if pid == 0:
        try:
            _die_with_parent()  # F: its whole PID namespace then dies with it
            _serve_child(spec, fds)
        except BaseException as exc:  # noqa: BLE001 - report any set-up failure and stop
            os.write(fds[2], f"cnngrade sandbox set-up (fork server) failed: {exc}\n".encode())
            os._exit(125)
    for fd in fds:
        os.close(fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _run_forked(spec: dict, fds: list[int]) -> None:
    """In ``F``, just forked: make the namespaces, fork ``G`` into them (in the landlock tier, no namespaces:
    :func:`.unprivileged.run_forked`), end as it ends (never returns)."""
    code = 125
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _die_with_parent()  # the server, which ends when the grading process does
        os.setsid()
        for procs in spec["cgroup_procs"]:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        if "confine" in spec:  # the landlock tier: no namespaces; G confines itself (unprivileged.py)
            code = unprivileged.run_forked(spec, fds, _run_child)
        else:
            code = _run_in_namespaces(spec, fds)
        if code < 0:  # end the way G ended: by its signal
            signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
            code = 128 - code
    except BaseException as exc:  # noqa: BLE001
        try:
            os.write(fds[2], f"cnngrade sandbox set-up (fork server) failed: {exc}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


#: each forked child's cgroup directories, until it ends
_cgroups: dict[int, list[str]] = {}


def _spawn(control: socket.socket, message: bytes, fds: list[int]) -> None:
    try:
        spec = json.loads(message)["spawn"]
        if len(fds) != 3:
            raise ValueError(f"3 descriptors expected, {len(fds)} received")
        pid = os.fork()
        if pid == 0:
            control.close()
            _run_forked(spec, fds)
        _cgroups[pid] = [os.path.dirname(p) for p in spec["cgroup_procs"]]
        reply = {"pid": pid}
    except Exception as exc:  # noqa: BLE001 - the grading process reports it
        reply = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        for fd in fds:
            os.close(fd)
    control.sendall(json.dumps(reply).encode())


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _cgroups.pop(pid, None)
        control.sendall(json.dumps({"exited": pid, "status": os.waitstatus_to_exitcode(status)}).encode())


def _stop_children() -> None:
    """The grading process is gone (killed, say) without stopping its children: thaw their cgroups
    (a frozen process cannot die), kill them, wait for them and remove their cgroups."""
    for pid, directories in _cgroups.items():
        for directory in directories:
            for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                try:
                    with open(os.path.join(directory, name), "w") as f:
                        f.write(value)
                except OSError:
                    pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid, directories in _cgroups.items():
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        for directory in directories:
            for _ in range(100):  # the namespace's last processes leave it a moment after its init
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def serve(control: socket.socket) -> None:
    """Answer spawn requests and report ended children until the grading process closes the socket."""
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(wakeup_read, selectors.EVENT_READ, "wakeup")
    while True:
        for key, _ in selector.select():
            if key.data == "wakeup":
                os.read(wakeup_read, 4096)
                _reap(control)
                continue
            message, fds, _flags, _address = socket.recv_fds(control, MAX_MESSAGE, 3)
            if not message:
                _stop_children()
                return
            _spawn(control, message, fds)
            _reap(control)


def main(argv: list[str]) -> None:
    if argv[1] == "child":
        import cnngrade.submission.isolated.child  # noqa: F401 - torch and everything a child uses
    control = socket.socket(fileno=int(argv[2]))
    control.sendall(b'{"ready": true}')
    serve(control)


if __name__ == "__main__":
    main(sys.argv)
