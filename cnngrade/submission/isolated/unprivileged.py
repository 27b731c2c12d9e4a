"""The ``landlock`` sandbox: for containers, where no namespace can be made.

Docker, GitLab's Docker executor, Kubernetes and Gradescope run a grader without CAP_SYS_ADMIN and
(Docker's default seccomp profile) refuse ``unshare`` and the namespace flags of ``clone``: the fork
server's namespaces, bubblewrap and ``unshare`` all fail there. This tier is built from what such a
process can still do, each step applied by the child to itself, before any student code, after the fork
server forked it (:mod:`.forkserver`):

* a uid of its own where the grader can setuid (root, even without CAP_SYS_ADMIN: Docker keeps
  CAP_SETUID), else the grader's own (an ordinary user); no capabilities, no_new_privs, the rlimits
  of every tier, and the cgroup where one can be made (:mod:`.cgroups`);
* :mod:`.landlock` for the file system: it may read the Python installation (every directory the
  other tiers mount: :func:`.sandbox.system_mounts`, with the same parts masked), the system
  libraries, the staged copy of cnngrade's code and the staged submission, its own ``/proc/PID``
  and the CPU list; write only a private folder (its HOME, TMPDIR and working directory), watched
  from outside (:class:`FolderWatch`: it is on the host's disk, not a size-capped tmpfs); nothing
  else: not the repository, reference/, graders/, lab.toml, the bundled data, /usr/share/datasets,
  /root, /proc of other processes, other students' folders. TCP is refused too (ABI 4), and signals
  and abstract Unix sockets outside the sandbox (ABI 6);
* :mod:`.seccomp`: no sockets (but connected pairs of Unix ones: a socket of the host's, pathname or
  abstract, would answer it, where the namespace tiers' own network namespace and file system hide
  them all), no ptrace / process_vm_*, no new namespaces, no mount, no setsid / setpgid (its
  processes stay in its process group, which the grading process stops and kills with one signal),
  no kexec, bpf, perf, keyrings, io_uring...; where it keeps the grader's uid, no chmod / chown /
  extended attributes / timestamps either (Landlock does not cover them).

A Python installation that a fresh uid cannot reach (a pyenv under root's ``/root``, mode 700) is
reached through descriptors that the child opens before it drops its uid: ``/proc/self/fd/N/...``
replaces it in ``sys.path`` and in the imported packages' paths (:func:`reroute`).

What it cannot do, against the namespace tiers: the child sees the host's real paths (its folder under
the grader's temporary directory, not ``/tmp``); its PID namespace is the host's (``/proc`` of other
processes is refused, not hidden), and so are its network namespace (no socket can be made) and its
hostname; its private folder is on the host's disk (RLIMIT_FSIZE caps each file; the grading process
stops a child whose folder grows past ``Limits.tmp_size``, checked every 0.1 s, so a fast writer may
pass it by what it writes in that time); its ``/dev/shm`` is refused, not private; a new interpreter
(``subprocess`` of ``sys.executable``) cannot start where the installation was rerouted.

Fail closed: if any step cannot be applied, the child exits (status 125) before importing the
submission. Where the kernel has no Landlock or the architecture no seccomp table, :func:`unavailable`
says why and detection moves on (:mod:`.sandbox`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from cnngrade.submission.isolated import landlock, seccomp

PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_CHILD_SUBREAPER = 47, 4, 36
CAP_SETGID, CAP_SETUID = 6, 7
RLIMITS = {"cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE,
           "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE, "as": resource.RLIMIT_AS}
#: device nodes the child may read and write (as every tier's /dev has them)
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
#: what the C library, OpenMP and torch's cpuinfo read to count and know the CPUs
SYSTEM_INFO = ("/sys/devices/system/cpu", "/proc/cpuinfo")
#: the most files and folders its private folder may hold
MAX_ENTRIES = 10_000

_libc = ctypes.CDLL(None, use_errno=True)


class ConfineError(OSError):
    """A step of the sandbox could not be applied: the child must not run."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise ConfineError(err, f"{what}: {os.strerror(err)}")


# --------------------------------------------------------------------------- the grading process's side


def _capabilities(kind: str = "CapEff") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(kind + ":"):
                return int(line.split()[1], 16)
    return 0


def unavailable(as_root: bool) -> str | None:
    """None where this tier can run here, else why not (cheap: its trial run comes after)."""
    try:
        version = landlock.abi()
    except landlock.LandlockError as exc:
        why = {errno.ENOSYS: "a kernel before Linux 5.13",
               errno.EOPNOTSUPP: "the kernel was booted without landlock in its lsm= list",
               errno.EPERM: "a seccomp profile refuses it: Docker before 23.0, containerd before 1.6"}
        return f"Landlock is not available ({why.get(exc.errno, exc.strerror)})"
    problem = seccomp.supported()
    if problem:
        return problem
    if as_root and not (_capabilities() >> CAP_SETUID & 1 and _capabilities() >> CAP_SETGID & 1):
        return "root without CAP_SETUID / CAP_SETGID: the child could not get a uid of its own"
    if not as_root and version < 6:
        return (f"as an ordinary user the child keeps the grader's uid, and this kernel's Landlock (ABI {version}) "
                "cannot keep it from signalling the grader (ABI 6 can)")
    return None


def describe(as_root: bool, memory: str, tmp_size: int) -> str:
    """The tier in words (the report's header)."""
    try:
        version = f"ABI {landlock.abi()}"
    except landlock.LandlockError:
        version = "unavailable"
    who = ("as a uid of its own (setuid)" if as_root
           else "as the grader's uid (an ordinary user cannot change it)")
    return (f"cnngrade's fork server without namespaces, confined by Landlock ({version}) and seccomp, {who}, no "
            "capabilities, no_new_privs: it reads only the Python installation, the system libraries, cnngrade's code "
            f"and the submission, and writes only a private folder ({tmp_size >> 20} MiB, watched); no sockets (but "
            f"connected pairs), no ptrace, no new namespaces, no mount, no signals outside it; {memory}")


def _masked(path: str, masks: list[str]) -> bool:
    return any(path == m or path.startswith(m + "/") for m in masks)


def _expand(root: str, masks: list[str]) -> list[str]:
    """``root``, or where a mask lies beneath it, the entries around the mask (symbolic links left out)."""
    if _masked(root, masks):
        return []
    if not any(m.startswith(root.rstrip("/") + "/") for m in masks):
        return [root]
    out = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        if not entry.is_symlink():
            out += _expand(entry.path, masks)
    return out


def read_paths(mounts: list) -> list[str]:
    """What the child may read: the sources of the read-only mounts the other tiers make, less what
    they mask (a tmpfs over the package's data, /usr/share/datasets)."""
    from cnngrade.submission.isolated.sandbox import TMP

    masks = [m.dest for m in mounts if m.kind == "tmpfs" and m.dest != TMP]
    paths: list[str] = []
    for m in mounts:
        if m.kind == "ro":
            paths += _expand(m.source or m.dest, masks)
    return paths


def _reachable(path: str) -> bool:
    from cnngrade.submission.isolated.sandbox import _reachable_by_others

    return _reachable_by_others(path) if os.path.isdir(path) else True


def fork_spec(spec, staging: Path, as_root: bool) -> dict:
    """What the fork server needs to fork ``spec``'s child (a :class:`.sandbox.ChildSpec` written for
    the namespace tiers' view) in this tier: the same files at their real paths, a private folder in
    ``staging`` instead of the private /tmp."""
    import json

    from cnngrade.submission.isolated.sandbox import PACKAGE_ROOT, SUBMISSION_ROOT, TMP, staged_package

    for old in staging.glob("tmp-*"):  # the folder of the child this one replaces
        shutil.rmtree(old, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix="tmp-", dir=staging)
    if as_root:
        os.chown(tmp, spec.uid, spec.uid)
    tmp_size = next((m.size for m in spec.mounts if m.kind == "tmpfs" and m.dest == TMP and m.size), 256 << 20)
    package = staged_package()
    submission = next((m.source for m in spec.mounts if m.kind == "ro" and m.dest == SUBMISSION_ROOT), None)
    places = [(TMP, tmp), (PACKAGE_ROOT, package)] + ([(SUBMISSION_ROOT, submission)] if submission else [])

    def outside(path: str) -> str:
        for inside, real in places:
            if path == inside or path.startswith(inside + "/"):
                return real + path[len(inside):]
        return path

    env = {key: os.pathsep.join(map(outside, value.split(os.pathsep)))
           if key in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "PYTHONPATH") else value for key, value in spec.env.items()}
    options = spec.argv[-1]
    try:
        parsed = json.loads(options)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("submission"), str):
        options = json.dumps({**parsed, "submission": outside(parsed["submission"])})
    reads = read_paths(spec.mounts) + [package]
    return {
        "confine": {
            "read": reads, "write": tmp, "drop": "setuid" if as_root else "keep",
            "devices": [*DEVICES, *(m.source or m.dest for m in spec.mounts if m.kind == "dev-bind")],
            "reroute": [p for p in reads if as_root and not _reachable(p)],
        },
        "env": env, "cwd": tmp, "uid": spec.uid, "gid": spec.uid, "rlimits": spec.rlimits, "options": options,
        "package": [package, package], "watch": {"path": tmp, "bytes": tmp_size, "entries": MAX_ENTRIES},
    }


def probe_check(grader_file: str) -> str:
    """A trial child's code: it must be refused the grader's file, the root directory, a TCP socket and
    a session of its own, and write to its folder."""
    return (
        "import os, socket, sys\n"
        "def refused(f):\n"
        "    try:\n        f()\n    except OSError:\n        return True\n    return False\n"
        f"ok = (refused(lambda: open({grader_file!r}, 'rb')) and refused(lambda: os.listdir('/'))\n"
        "      and refused(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)) and refused(os.setsid))\n"
        "with open('trial', 'w') as f:\n    f.write('x')\n"
        "sys.exit(0 if ok else 3)\n"
    )


class FolderWatch:
    """Stops a child whose private folder (on the host's disk) holds more than ``max_bytes`` or
    ``max_entries`` files and folders: checked every ``interval`` seconds by a thread of the grading
    process, which calls ``on_exceed`` (the child's kill) once."""

    def __init__(self, path: str, max_bytes: int, max_entries: int, on_exceed, interval: float = 0.1) -> None:
        self.path, self.max_bytes, self.max_entries = path, max_bytes, max_entries
        self.on_exceed, self.interval = on_exceed, interval
        #: why the child was stopped (None while it was not)
        self.exceeded: str | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="cnngrade-child-folder", daemon=True)
        self.thread.start()

    def usage(self) -> tuple[int, int]:
        """(bytes on disk, entries) of the folder, counting up to one entry past the cap."""
        used, entries, stack = 0, 0, [self.path]
        while stack and entries <= self.max_entries:
            try:
                with os.scandir(stack.pop()) as listing:
                    for entry in listing:
                        entries += 1
                        try:
                            info = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        used += info.st_blocks * 512
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
            except OSError:
                continue
        return used, entries

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            used, entries = self.usage()
            if used > self.max_bytes or entries > self.max_entries:
                self.exceeded = (f"the submission's processes wrote more than {self.max_bytes >> 20} MiB or "
                                 f"{self.max_entries} files into their temporary folder (its limit)")
                self.on_exceed()
                return

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------- the child's side (fork server)


def run_forked(spec: dict, fds: list[int], run_child) -> int:
    """In ``F`` (its own session and cgroups already): fork ``G``, which confines itself and runs
    ``run_child(spec)``; reap every orphan of the sandbox (``F`` is their subreaper) and, once ``G``
    ends, kill the processes it left, as the end of a PID namespace would; return ``G``'s exit code,
    128 + N where a signal N killed it (as the namespace tiers' pid 1 reports its child's end)."""
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            os.closerange(3, 1 << 16)
            _confine_and_run(spec, parent, run_child)
        except BaseException as exc:  # noqa: BLE001 - report any set-up failure and stop
            try:
                os.write(2, f"cnngrade sandbox set-up (landlock) failed: {exc}\n".encode())
            finally:
                os._exit(125)
    for fd in fds:
        os.close(fd)
    code = None
    while True:
        if code is not None:
            _kill_children()
        try:
            child, status = os.wait()
        except ChildProcessError:
            return 125 if code is None else code
        if child == pid:
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code


def _kill_children() -> None:
    """SIGKILL this process's children (orphans of the sandbox that it adopted)."""
    me = str(os.getpid())
    try:
        with open(f"/proc/{me}/task/{me}/children") as listing:
            children = [int(p) for p in listing.read().split()]
    except OSError:
        children = []
        for name in os.listdir("/proc"):
            try:
                with open(f"/proc/{name}/stat") as stat:
                    if name.isdigit() and stat.read().rsplit(")", 1)[1].split()[1] == me:
                        children.append(int(name))
            except (OSError, IndexError):
                continue
    for child in children:
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass


def _confine_and_run(spec: dict, parent: int, run_child) -> None:
    """In ``G``: confine this process (:func:`confine`), then serve the child (never returns)."""
    mapping = confine(spec["confine"], spec, parent)
    os.environ.clear()
    os.environ.update(spec["env"])
    os.chdir(spec["cwd"])
    reroute(mapping)
    run_child(spec)


def confine(c: dict, spec: dict, parent: int) -> dict[str, str]:
    """Apply every step of the sandbox to this process, in order; raise if one fails. Returns the
    directories reached through descriptors (:func:`reroute`)."""
    if len(os.listdir("/proc/self/task")) != 1:
        raise ConfineError("the process has several threads: Landlock and seccomp would confine one")
    ruleset = landlock.Ruleset()
    try:
        if c["drop"] == "keep" and not ruleset.scopes_signals:
            raise ConfineError(f"Landlock ABI {ruleset.abi} cannot scope signals; the child shares the grader's uid")
        for path in c["read"]:
            ruleset.allow(path, landlock.READ)
        if not ruleset.allow(c["write"], landlock.WRITE):
            raise ConfineError(f"the private folder {c['write']} is missing")
        for path in c["devices"]:
            ruleset.allow(path, landlock.DEVICE | landlock.IOCTL_DEV)
        ruleset.allow(f"/proc/{os.getpid()}", landlock.READ_FILE | landlock.READ_DIR)
        for path in SYSTEM_INFO:
            ruleset.allow(path, landlock.READ_FILE | landlock.READ_DIR)
        mapping = {path: f"/proc/self/fd/{os.open(path, os.O_PATH | os.O_DIRECTORY)}" for path in c["reroute"]}
        _drop_privileges(c["drop"], spec["uid"], spec["gid"])
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")  # setuid cleared it
        if os.getppid() != parent:
            raise ConfineError("the sandbox's first process ended")
        for name, value in spec["rlimits"].items():
            resource.setrlimit(RLIMITS[name], (value, value))
        ruleset.restrict_self()
    finally:
        ruleset.close()
    seccomp.install(seccomp.program(shared_uid=c["drop"] == "keep", unix_sockets=False))
    return mapping


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_privileges(drop: str, uid: int, gid: int) -> None:
    """Root: a uid and gid of the sandbox's own, no groups. Anyone: no capabilities (effective,
    permitted, inheritable, ambient; the bounding set where CAP_SETPCAP allows), no_new_privs;
    checked after."""
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # refused without CAP_SETPCAP: no_new_privs covers exec
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if drop == "setuid":
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
            raise ConfineError("could not drop to the sandbox's uid")
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3: all zero
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    if any(_capabilities(kind) for kind in ("CapEff", "CapPrm", "CapInh", "CapAmb")):
        raise ConfineError("capabilities left after dropping them")


def reroute(mapping: dict[str, str]) -> None:
    """Reach each directory of ``mapping`` (one the child's uid cannot walk to) through its
    descriptor: in ``sys.path`` and in every imported module's ``__path__`` and ``__file__``."""
    if not mapping:
        return
    import importlib

    def swap(path: object) -> object:
        if isinstance(path, str):
            for real, through in mapping.items():
                if path == real or path.startswith(real + "/"):
                    return through + path[len(real):]
        return path

    sys.path[:] = [swap(p) for p in sys.path]
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)  # not getattr(module, ...): a module's __getattr__ may raise
        if not isinstance(namespace, dict):
            continue
        paths = namespace.get("__path__")
        if isinstance(paths, list):
            paths[:] = [swap(p) for p in paths]
        elif isinstance(vars(paths).get("_path") if hasattr(paths, "__dict__") else None, list):
            paths._path[:] = [swap(p) for p in paths._path]  # a namespace package's _NamespacePath
        if isinstance(namespace.get("__file__"), str):
            namespace["__file__"] = swap(namespace["__file__"])
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
