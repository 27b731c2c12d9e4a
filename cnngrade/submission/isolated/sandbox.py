"""Which sandbox this machine offers, and the command line that starts a child inside it.

Tried in order (``CNNGRADE_SANDBOX=fork|bwrap|unshare|landlock|none`` forces a choice):

0. **fork**: cnngrade's fork server (:mod:`.forkserver`) imports torch once per grading run and
   forks each child, which makes its namespaces and file system view as :mod:`.nsinit` does for
   ``unshare`` below (the same mounts, pivot_root, uid and capabilities dropped) and sets its rlimits
   itself: a child starts in milliseconds instead of seconds.
1. **bubblewrap** (``bwrap``). As root: ``setpriv`` first drops to uid 65534 (no groups, no
   capabilities, no_new_privs), then bwrap builds the sandbox in new user, mount, PID, network,
   IPC, UTS and cgroup namespaces. Python directories that uid 65534 cannot reach (a pyenv under
   ``/root``) are first bind-mounted onto a staging directory in a private mount namespace
   (``unshare --mount`` + ``mount --bind``), never in the host's. As an ordinary user: bwrap alone.
2. **unshare** (util-linux): ``unshare --mount --pid --net --ipc --uts --fork`` (with
   ``--user --map-root-user`` for an ordinary user) runs :mod:`cnngrade.submission.isolated.nsinit`, which
   builds the same file system view, pivots into it and drops to uid 65534 (root) or drops
   every capability (user namespace).

3. **landlock**, where none of those can make a namespace (a Docker, Kubernetes or Gradescope container:
   no CAP_SYS_ADMIN, and a seccomp profile that refuses ``unshare``): the fork server forks each
   child without namespaces, and the child confines itself: a uid of its own (or, for an ordinary
   user, no capabilities), no_new_privs, rlimits, Landlock for the file system and a seccomp filter
   (:mod:`.unprivileged`). It sees the same files at their real paths (its private folder instead of
   a private /tmp) and nothing else.

With bubblewrap or unshare ``prlimit`` sets the rlimits first. Every way, the child sees: ``/usr`` (minus
``/usr/share/datasets``) and the Python installation read-only, a copy of the ``cnngrade``
package's ``.py`` files (no data) at ``/opt/cnngrade/cnngrade``, a copy of the submission's
top-level files at ``/submission``, a private size-capped tmpfs at ``/tmp`` (its HOME and working
directory), a new ``/proc`` and a minimal ``/dev``; no network, no repository, no environment
variables but the ones it is given. When nothing works, :func:`detect` raises
:class:`SandboxUnavailable` explaining how to fix it.

One module, though over 400 lines: the two tools build the same view from one list of mounts
(:func:`child_mounts`), and detecting which tool works means starting a child with each.
"""

from __future__ import annotations

import atexit
import compileall
import functools
import itertools
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cnngrade
from cnngrade.submission.isolated import cgroups, import_path, unprivileged
from cnngrade.submission.isolated.limits import Limits
from cnngrade.threads import thread_env

#: The uid / gid the child has inside a bubblewrap sandbox ("nobody").
SANDBOX_UID = SANDBOX_GID = 65534
#: Outside uids (and gids) of the sandboxes root starts: one per child, never a real account's, so
#: that RLIMIT_NPROC and the right to send signals are per sandbox (a fork bomb in one submission's
#: sandbox cannot starve another's).
UID_BASE, UID_COUNT = 1_600_000_000, 1_000_000
_uid_counter = itertools.count()
PACKAGE_ROOT = "/opt/cnngrade"
SUBMISSION_ROOT = "/submission"
TMP = "/tmp"
#: Directories masked with an empty tmpfs although /usr is visible (Debian's datasets: labels).
MASKED = ("/usr/share/datasets",)
_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

FIX_HINT = (
    "To grade untrusted code, install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`) "
    "and allow unprivileged user namespaces (`sudo sysctl kernel.unprivileged_userns_clone=1`; on "
    "Ubuntu 24.04, e.g. GitHub Actions runners: `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`), "
    "or run the grader as root (bubblewrap or util-linux `unshare` then drop to uid 65534). In a container "
    "that refuses namespaces, the landlock sandbox needs a kernel with Landlock (Linux 5.13 or later, `landlock` "
    "in its lsm= list; ABI 6, Linux 6.12, for an ordinary user) and, as root, CAP_SETUID. For code you "
    "trust, choose the in-process backend explicitly (pytest: leave out --isolated; `cnngrade grade`: "
    "--in-process)."
)


class SandboxUnavailable(RuntimeError):
    """No sandbox can be set up on this machine: the isolated backend refuses to grade."""


@dataclass(frozen=True)
class Mount:
    """One entry of the child's file system: ``ro`` / ``dev-bind`` binds, ``tmpfs``, ``symlink``,
    ``proc``, ``dev``."""

    kind: str
    dest: str
    source: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class ChildSpec:
    """What runs in the sandbox and what it sees."""

    argv: list[str]
    env: dict[str, str]
    mounts: list[Mount]
    cwd: str = TMP
    rlimits: dict[str, int] = field(default_factory=dict)
    #: the uid (and gid) root drops to (see :func:`allocate_uid`); ignored for an ordinary user
    uid: int = SANDBOX_UID


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + _SEARCH_PATH)


def _reachable_by_others(path: str) -> bool:
    """Whether a uid that owns nothing can open ``path`` (a directory) for reading."""
    try:
        parts = Path(path).parts
        for i in range(1, len(parts) + 1):
            st = os.stat(os.path.join(*parts[:i]))
            if not st.st_mode & 0o001:
                return False
        return bool(os.stat(path).st_mode & 0o004)
    except OSError:
        return False


def allocate_uid() -> int:
    """The outside uid of a new child: a fresh one from the sandbox range for root, else the caller's."""
    if os.geteuid() != 0:
        return os.getuid()
    return UID_BASE + (os.getpid() * 1000 + next(_uid_counter)) % UID_COUNT


def _tasks_of(uids: range | tuple[int, ...]) -> int:
    """Processes + threads owned by one of ``uids`` (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def sandboxed_tasks() -> int:
    """Processes + threads of every sandbox that root started (and of the uid 65534)."""
    return _tasks_of(range(UID_BASE, UID_BASE + UID_COUNT)) + _tasks_of((SANDBOX_UID,))


def _python_dirs() -> list[str]:
    """The installation directories the child's interpreter needs, outermost only, outside /usr: its
    prefixes, and the entries of the grader's import path (:func:`.import_path.visible_entries`: a
    ``.pth`` file's folder outside them, ``PYTHONPATH``, the user site)."""
    candidates = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    candidates.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    candidates.update(import_path.visible_entries())
    keep = []
    for path in sorted(candidates, key=len):
        if path in ("/", "") or path == "/usr" or path.startswith("/usr/"):
            continue
        if any(path == k or path.startswith(k + "/") for k in keep):
            continue
        keep.append(path)
    return keep


def python_dirs() -> list[str]:
    """Every folder of the Python installation the child sees (:func:`_python_dirs`, and ``/usr``)."""
    return ["/usr", *_python_dirs()]


def _package_dir() -> str:
    return os.path.realpath(os.path.dirname(cnngrade.__file__))


def system_mounts() -> list[Mount]:
    """Everything the interpreter needs, read-only; the package's real directory masked."""
    mounts = [Mount("ro", "/usr", "/usr")]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            mounts.append(Mount("symlink", path, os.readlink(path)))
        elif os.path.isdir(path):
            mounts.append(Mount("ro", path, path))
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"):
        if os.path.exists(path):
            mounts.append(Mount("ro", path, os.path.realpath(path)))
    package = _package_dir()
    repository = import_path.repository()  # an editable install: the repository holds graders/, reference/
    for path in _python_dirs():
        if repository and (repository == path or repository.startswith(path + "/")):
            raise SandboxUnavailable(
                f"the Python installation {path} contains the cnngrade repository {repository}; the "
                "sandbox would expose it. Install cnngrade into a virtual environment outside the repository "
                "or inside it (.venv), not the other way round."
            )
        mounts.append(Mount("ro", path, path))
    if any(package.startswith(m.dest + "/") for m in mounts if m.kind == "ro"):
        mounts.append(Mount("tmpfs", package, size=4096))  # an ordinary install: hide its data files
    for path in MASKED:
        if os.path.isdir(path):
            mounts.append(Mount("tmpfs", path, size=4096))
    return mounts


def gpu_mounts() -> list[Mount]:
    """The NVIDIA device nodes (mounted after /dev)."""
    return [Mount("dev-bind", f"/dev/{name}", f"/dev/{name}") for name in sorted(os.listdir("/dev"))
            if name.startswith("nvidia") and not os.path.isdir(f"/dev/{name}")]


# --------------------------------------------------------------------------- staging


_package_lock = threading.Lock()
_staged_package: str | None = None


def staged_package() -> str:
    """A read-only copy of the cnngrade package's ``.py`` files (no data), made once per process, with
    their bytecode: children run with ``-B`` and could not cache it, so each would compile the
    package again (about half a second of every child's start)."""
    global _staged_package
    with _package_lock:
        if _staged_package is None or not os.path.isdir(_staged_package):
            root = tempfile.mkdtemp(prefix="cnngrade-package-")
            atexit.register(shutil.rmtree, root, True)
            source = Path(_package_dir())
            target = Path(root) / "cnngrade"
            for file in sorted(source.rglob("*.py")):
                relative = file.relative_to(source)
                if "__pycache__" in relative.parts or file.is_symlink():
                    continue
                (target / relative.parent).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target / relative)
            compileall.compile_dir(target, quiet=2, workers=1)
            _make_readable(root)
            _staged_package = root
        return _staged_package


def _make_readable(root: str) -> None:
    for directory, _dirs, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)


def stage_submission(path: Path, into: Path, max_bytes: int) -> tuple[str, str]:
    """Copy the submission's top-level regular files (never symlinks) into ``into``.

    Returns (host directory to mount at SUBMISSION_ROOT, the submission's path inside the sandbox).
    """
    into.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        files, inside_name = [path], None
    else:
        files = sorted(p for p in path.iterdir())
        inside_name = path.resolve().name or "submission"
    target = into / inside_name if inside_name else into
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    for file in files:
        try:
            fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue  # a symlink, a socket, unreadable: the child never sees it
        with os.fdopen(fd, "rb") as source:
            info = os.fstat(source.fileno())
            if not (info.st_mode & 0o170000 == 0o100000):
                continue
            total += info.st_size
            if total > max_bytes:
                raise OSError(f"the submission's files add up to more than {max_bytes >> 20} MiB")
            with open(target / file.name, "wb") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
    _make_readable(str(into))
    inside = f"{SUBMISSION_ROOT}/{inside_name}" if inside_name else f"{SUBMISSION_ROOT}/{path.name}"
    return str(into), inside


# --------------------------------------------------------------------------- sandboxes


@dataclass(frozen=True)
class Sandbox:
    """A way to run a child in a sandbox: ``tool`` is ``bwrap`` or ``unshare``."""

    tool: str
    as_root: bool
    paths: dict[str, str]

    @property
    def forks(self) -> bool:
        """Whether its children are forked by the fork server (:mod:`.forkserver`)."""
        return self.tool in ("fork", "landlock")

    @property
    def description(self) -> str:
        """The sandbox in words, and the memory cap of its processes (:mod:`.cgroups`)."""
        limits = Limits.from_env()
        memory = cgroups.describe(limits.memory, limits.gpu)
        if self.tool == "landlock":
            return unprivileged.describe(self.as_root, memory, limits.tmp_size)
        if self.tool == "fork":
            how = ("as root, dropping to an unprivileged uid of its own" if self.as_root
                   else "in an unprivileged user namespace, all capabilities dropped")
            return (f"cnngrade's fork server (new mount/pid/net/ipc/uts namespaces, pivot_root; torch imported "
                    f"once per run) {how}; {memory}")
        if self.tool == "bwrap":
            how = ("as an unprivileged uid of its own (setpriv), in new user/mount/pid/net/ipc/uts namespaces"
                   if self.as_root else "in an unprivileged user namespace with new mount/pid/net/ipc/uts namespaces")
            return f"bubblewrap {how}; {memory}"
        how = ("as root, dropping to an unprivileged uid of its own" if self.as_root
               else "in an unprivileged user namespace, all capabilities dropped")
        return f"util-linux unshare (mount/pid/net/ipc/uts namespaces, pivot_root) {how}; {memory}"

    def fork_spec(self, spec: ChildSpec, staging: Path) -> dict:
        """What the fork server (:mod:`.forkserver`) needs to fork ``spec``'s child: its last argument
        is the child's options; a ``check`` (Python source) runs instead of the child."""
        if self.tool == "landlock":
            return unprivileged.fork_spec(spec, staging, self.as_root)
        root = staging / "root"
        root.mkdir(mode=0o755, exist_ok=True)
        return {"root": str(root), "mounts": [[m.kind, m.dest, m.source, m.size] for m in spec.mounts],
                "env": spec.env, "cwd": spec.cwd, "uid": spec.uid, "gid": spec.uid, "rlimits": spec.rlimits,
                "drop": "setuid" if self.as_root else "caps", "options": spec.argv[-1],
                "package": [staged_package(), PACKAGE_ROOT]}

    def command(self, spec: ChildSpec, staging: Path) -> list[str]:
        """The command line (run with an empty environment) that starts ``spec`` in the sandbox."""
        prefix = [self.paths["prlimit"], *(f"--{k}={v}" for k, v in spec.rlimits.items()), "--"]
        if self.tool == "bwrap":
            return prefix + self._bwrap(spec, staging)
        return prefix + self._unshare(spec, staging)

    def _bwrap(self, spec: ChildSpec, staging: Path) -> list[str]:
        staged: list[str] = []
        read_only: list[str] = []
        # No --new-session: the caller starts bwrap in a new session of its own (no controlling
        # terminal, so no TIOCSTI), and the sandbox starts in bwrap's process group; the parent
        # pauses that group and every other process of the sandbox's PID namespace between calls,
        # and kills the group (bwrap's PID namespace dies with it).
        bw = [self.paths["bwrap"], "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
              "--hostname", "sandbox", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        for i, m in enumerate(spec.mounts):
            if m.kind in ("ro", "dev-bind"):
                source = m.source or m.dest
                if self.as_root and m.kind == "ro" and not _reachable_by_others(source) and os.path.isdir(source):
                    point = staging / f"mount{i}"
                    point.mkdir(mode=0o755, exist_ok=True)
                    staged += [source, str(point)]
                    source = str(point)
                bw += ["--ro-bind" if m.kind == "ro" else "--dev-bind", source, m.dest]
            elif m.kind == "tmpfs":
                bw += ["--size", str(m.size), "--tmpfs", m.dest] if m.size else ["--tmpfs", m.dest]
            elif m.kind == "symlink":
                bw += ["--symlink", str(m.source), m.dest]
            elif m.kind == "proc":
                bw += ["--proc", m.dest]
            elif m.kind == "dev":
                bw += ["--dev", m.dest, "--size", str(m.size or 64 << 20), "--tmpfs", f"{m.dest}/shm"]
                read_only.append(m.dest)
            else:
                raise ValueError(m.kind)
        for path in read_only:  # after the device binds that go into it
            bw += ["--remount-ro", path]
        bw += ["--remount-ro", "/", "--clearenv"]
        for key, value in spec.env.items():
            bw += ["--setenv", key, value]
        bw += ["--chdir", spec.cwd, "--", *spec.argv]
        if not self.as_root:
            return bw
        drop = [self.paths["setpriv"], f"--reuid={spec.uid}", f"--regid={spec.uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        if not staged:
            return drop + bw
        script = (f'while [ "$1" != -- ]; do {shlex.quote(self.paths["mount"])} --bind -- "$1" "$2" || exit 125; '
                  'shift 2; done; shift; exec "$@"')
        return [self.paths["unshare"], "--mount", "--propagation", "private", "--",
                self.paths["sh"], "-c", script, "sh", *staged, "--", *drop, *bw]

    def _unshare(self, spec: ChildSpec, staging: Path) -> list[str]:
        root = staging / "root"
        root.mkdir(mode=0o755, exist_ok=True)
        mounts = [[m.kind, m.dest, m.source, m.size] for m in spec.mounts]
        nsinit = {"root": str(root), "mounts": mounts, "argv": spec.argv, "env": spec.env, "cwd": spec.cwd,
                  "uid": spec.uid, "gid": spec.uid, "drop": "setuid" if self.as_root else "caps"}
        user = [] if self.as_root else ["--user", "--map-root-user"]
        return [self.paths["setpriv"], "--pdeathsig", "KILL", "--",
                self.paths["unshare"], *user, "--mount", "--pid", "--net", "--ipc", "--uts", "--fork",
                "--kill-child", "--propagation", "private", "--",
                os.path.realpath(sys.executable), "-S", "-I", "-B", str(Path(__file__).with_name("nsinit.py")),
                json.dumps(nsinit)]


def base_rlimits(*, uid: int, address_space: int | None, cpu_seconds: int, file_size: int, open_files: int,
                 processes: int) -> dict[str, int]:
    """``prlimit`` options: RLIMIT_NPROC counts what ``uid`` already runs, plus ``processes``."""
    limits = {"cpu": cpu_seconds, "fsize": file_size, "nofile": open_files,
              "nproc": _tasks_of((uid,)) + processes, "core": 0}
    if address_space:
        limits["as"] = address_space
    return limits


def _candidates() -> list[tuple[str, Sandbox | str]]:
    """(tool, sandbox or the reason it cannot be used), in order of preference."""
    root = os.geteuid() == 0
    found = {name: _which(name) for name in ("bwrap", "setpriv", "unshare", "prlimit", "mount", "sh")}
    out: list[tuple[str, Sandbox | str]] = [("fork", Sandbox("fork", root, {}))]
    needed = ("bwrap", "prlimit") + (("setpriv", "unshare", "mount", "sh") if root else ())
    missing = [n for n in needed if not found[n]]
    if missing:
        out.append(("bwrap", f"not available (missing: {', '.join(missing)})"))
    else:
        out.append(("bwrap", Sandbox("bwrap", root, {k: v for k, v in found.items() if v})))
    missing = [n for n in ("unshare", "setpriv", "prlimit") if not found[n]]
    if missing:
        out.append(("unshare", f"not available (missing: {', '.join(missing)})"))
    else:
        out.append(("unshare", Sandbox("unshare", root, {k: v for k, v in found.items() if v})))
    problem = unprivileged.unavailable(root)
    out.append(("landlock", f"not available ({problem})" if problem else Sandbox("landlock", root, {})))
    return out


def import_problem(sandbox: Sandbox, module: str, timeout: float = 120) -> str | None:
    """Whether a trial child of ``sandbox`` with the children's environment and import path, and no
    submission, imports ``module``: None if it does, else what happened."""
    check = (f"import importlib, sys\ntry:\n    importlib.import_module({module!r})\n"
             "except Exception as exc:\n    sys.stderr.write(f'{type(exc).__name__}: {exc}\\n')\n"
             "    sys.stderr.flush()\n    sys.exit(3)\n")
    return probe(sandbox, timeout, check=check)


def probe(sandbox: Sandbox, timeout: float = 60, check: str | None = None) -> str | None:
    """Start a trivial child in ``sandbox``; None if it worked, else why not. Without ``check``, the
    child checks its view of /tmp with no site; else it runs the Python code ``check`` as a grading
    child would run (its environment, the staged cnngrade package, its import path)."""
    staging = Path(tempfile.mkdtemp(prefix="cnngrade-probe-"))
    try:
        os.chmod(staging, 0o755)
        uid = allocate_uid()
        mounts = [Mount("tmpfs", TMP, size=1 << 20), *system_mounts(), Mount("proc", "/proc"), Mount("dev", "/dev")]
        if check is None:
            # the child's /tmp is a fresh tmpfs: it holds nothing but the way to a Python installation under /tmp
            allowed = sorted({p.split("/")[2] for p in _python_dirs() if p.startswith(f"{TMP}/")})
            check = f"import os, sys; sys.exit(0 if sorted(os.listdir('{TMP}')) == {allowed!r} else 3)"
            if sandbox.tool == "landlock":  # no private /tmp: refused what is the grader's, its own folder writable
                check = unprivileged.probe_check(os.path.join(_package_dir(), "__init__.py"))
            flags, env = ["-S"], {"PATH": "/usr/bin:/bin"}
        else:
            flags, env = ["-s", "-B", *(["-P"] if sys.version_info >= (3, 11) else [])], child_env(1, False)
            mounts.insert(-2, Mount("ro", f"{PACKAGE_ROOT}/cnngrade", os.path.join(staged_package(), "cnngrade")))
        spec = ChildSpec(
            argv=[sys.executable, *flags, "-c", check],
            env=env,
            mounts=mounts,
            rlimits=base_rlimits(uid=uid, address_space=None, cpu_seconds=60, file_size=1 << 20, open_files=256,
                                 processes=16),
            uid=uid,
        )
        if sandbox.forks:
            return _probe_fork(sandbox, spec, staging, timeout)
        proc = subprocess.run(sandbox.command(spec, staging), env={"PATH": _SEARCH_PATH}, capture_output=True,
                              timeout=timeout, start_new_session=True)
    except SandboxUnavailable as exc:
        return str(exc)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not be started ({exc})"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if proc.returncode == 0:
        return None
    detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"failed its trial run (exit status {proc.returncode}: {' / '.join(detail[-3:]) or 'no message'})"


def _probe_fork(sandbox: Sandbox, spec: ChildSpec, staging: Path, timeout: float) -> str | None:
    """:func:`probe` for the fork server: a server that imports nothing forks the trial child."""
    from cnngrade.submission.isolated import zygote

    log_read, log_write = os.pipe()
    fds = [os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY), log_write]
    try:
        server = zygote.ForkServer({**spec.env, "PYTHONPATH": python_path(staged_package())}, preload="none")
    except (OSError, zygote.ForkServerError) as exc:
        for fd in (*fds, log_read):
            os.close(fd)
        return f"could not be started ({exc})"
    try:
        forked = server.spawn({**sandbox.fork_spec(spec, staging), "cgroup_procs": [], "check": spec.argv[-1]}, fds)
        code = forked.wait(timeout)
    except (zygote.ForkServerError, subprocess.TimeoutExpired) as exc:
        return f"failed its trial run ({exc})"
    finally:
        for fd in fds:
            os.close(fd)
        server.close()
        with os.fdopen(log_read, "rb") as log:
            detail = log.read(4096).decode("utf-8", "replace").strip().splitlines()
    if code == 0:
        return None
    return f"failed its trial run (exit status {code}: {' / '.join(detail[-3:]) or 'no message'})"


@functools.lru_cache(maxsize=1)
def detect() -> Sandbox:
    """The first sandbox that works here (cached); :class:`SandboxUnavailable` if none does. When a
    sandbox that should work failed its trial runs and another is used, stderr says so and why."""
    forced = os.environ.get("CNNGRADE_SANDBOX", "").strip().lower()
    reasons, failed = [], []
    for tool, candidate in _candidates():
        if forced and forced != tool:
            reasons.append(f"{tool}: not tried (CNNGRADE_SANDBOX={forced})")
            continue
        if isinstance(candidate, str):
            reasons.append(f"{tool}: {candidate}")
            continue
        problem = probe(candidate)
        if problem is not None:  # once more: a trial run can fail for a passing reason (a loaded machine)
            time.sleep(0.5)
            problem = probe(candidate)
        if problem is None:
            for reason in failed:
                sys.stderr.write(f"cnngrade: sandbox {reason}; using {candidate.tool} instead\n")
            return candidate
        reasons.append(f"{tool}: {problem}")
        failed.append(f"{tool} {problem}")
    raise SandboxUnavailable(
        "The isolated backend found no usable sandbox on this machine, so it refuses to run the submission:\n  "
        + "\n  ".join(reasons) + "\n" + FIX_HINT
    )


def python_path(package_root: str) -> str:
    """The child's ``PYTHONPATH``: the folder holding the staged cnngrade package (``package_root``), then
    the grader's import path entries the child would not find by itself (:mod:`.import_path`)."""
    return os.pathsep.join([package_root, *import_path.extra_entries()])


def child_env(threads: int, gpu: bool) -> dict[str, str]:
    """The child's whole environment."""
    bindir = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": TMP, "TMPDIR": TMP, "USER": "sandbox", "LOGNAME": "sandbox",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONPATH": python_path(PACKAGE_ROOT), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONSAFEPATH": "1",
        "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1",
        **thread_env(threads),
        "XDG_CACHE_HOME": f"{TMP}/.cache",
    }
    if not gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def child_mounts(submission_dir: str, tmp_size: int, shm_size: int, gpu: bool) -> list[Mount]:
    """The child's file system, in mount order: its private /tmp first, so that a Python installation
    under the host's /tmp (a project cloned there, with its .venv) is bound onto it, not hidden by it."""
    return [
        Mount("tmpfs", TMP, size=tmp_size),
        *system_mounts(),
        Mount("ro", f"{PACKAGE_ROOT}/cnngrade", os.path.join(staged_package(), "cnngrade")),
        Mount("ro", SUBMISSION_ROOT, submission_dir),
        Mount("proc", "/proc"),
        Mount("dev", "/dev", size=shm_size),
        *(gpu_mounts() if gpu else []),
    ]


def format_command(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
