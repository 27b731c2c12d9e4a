"""The ``landlock`` sandbox (cnngrade/submission/isolated/unprivileged.py), where no namespace can be made.

A Docker container (GitLab's Docker executor, a Kubernetes pod, Gradescope) runs the grader as root
without CAP_SYS_ADMIN under a seccomp profile that refuses ``unshare`` and the namespace flags of
``clone``; ``tests/container.py`` sets up the same (a seccomp filter, then ``capsh --drop=cap_sys_admin``).
There the fork server, bubblewrap and ``unshare`` all fail their trial runs, and cnngrade falls back
to the landlock tier instead of refusing to grade:

* ``cnngrade grade reference`` (a cheap set of checks) gets full marks, its report naming the tier
  (:func:`grade_the_reference_in_a_container`);
* hostile submissions that go for the file system, the network, /proc, other processes, the disk and
  the machine's processes forge nothing (:func:`grade_hostile_submissions_in_a_container`), graded
  without cgroups (Docker mounts /sys/fs/cgroup read-only): the spy (tolerant of what this tier
  refuses instead of hiding: /proc's listing, the network interfaces), ``escape``, written here,
  which tries every way out (ptrace, process_vm_readv, namespaces, mount, bpf, sockets, setsid, the
  grader's files and other students', writing outside its folder), and from tests/hostile/
  network, steal_reference, symlink_reference, forge_results, poison_environment, fill_disk,
  kill_everything and fork_bomb; the reference is graded before and after them.

Both run as corpus jobs, beside the other gradings. Without capsh, root or Landlock they skip, saying
why. The ordinary user's variant (the child keeps the grader's uid) is checked on the confinement
itself, as uid 65534 with the system's Python (:func:`test_a_child_that_keeps_the_graders_uid_is_confined`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cnngrade.grader.invocation import Grade, Runner, run_fresh, run_graders_on_each
from cnngrade.submission.isolated import landlock, sandbox, seccomp, unprivileged
from tests.container import container_problem
from tests.corpus import HANGING_TIMEOUT, HOSTILE, HOSTILE_NET_GRADERS, REFERENCE, background
from tests.host import planted_files
from tests.paths import ROOT, TESTS
from tests.test_hostile import EXPECTED, FORGED_MARK, matches

CONTAINER = TESTS / "container.py"
#: the reference's checks graded in the container: cheap ones, from each grader file that the Net feeds
CHEAP = "log_softmax or net_builds or architecture or pooling_from_scratch"
#: hostile submissions of tests/hostile/ graded in the container, and the verdicts test_hostile.py
#: holds them to, where this tier gives the same (network, fill_disk: see the tests below)
SAME_VERDICT = ("steal_reference", "symlink_reference", "forge_results", "poison_environment", "kill_everything",
                "fork_bomb")
FROM_CORPUS = ("network", "fill_disk", *SAME_VERDICT)
#: the spy's report (tests/hostile/spy), tolerant of what this tier refuses rather than hides
TOLERANT = '''def _tolerate_refusals():
    """What the landlock tier refuses instead of hiding (the listing of /proc, the network interfaces) reads as none."""
    listdir, interfaces = os.listdir, socket.if_nameindex

    def safe_listdir(path="."):
        try:
            return listdir(path)
        except PermissionError:
            return []

    def safe_interfaces():
        try:
            return interfaces()
        except OSError as exc:
            return [(0, f"refused (errno {exc.errno})")]

    os.listdir, socket.if_nameindex = safe_listdir, safe_interfaces


def report():
    _tolerate_refusals()
'''

ESCAPE = '''"""Hostile: tries every way out of the landlock tier in Net(); reports what each got (PROBE<<...>>PROBE)."""

import ctypes
import errno
import json
import os
import platform
import socket
import sysconfig

import torch.nn as nn

#: the grader's files and another student's, and the places outside its folder it tries to write to
READ = {read!r}
WRITE = {write!r}
#: x86_64 and aarch64 numbers of the system calls libc has no function for
NUMBERS = {{"x86_64": {{"process_vm_readv": 310, "bpf": 321, "perf_event_open": 298, "keyctl": 250, "setns": 308,
                      "io_uring_setup": 425, "clone": 56}},
           "aarch64": {{"process_vm_readv": 270, "bpf": 280, "perf_event_open": 241, "keyctl": 219, "setns": 268,
                       "io_uring_setup": 425, "clone": 220}}}}


def _errno():
    code = ctypes.get_errno()
    return errno.errorcode.get(code, str(code))


def _try(action):
    try:
        action()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "allowed"


def _attacks():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    numbers = NUMBERS[platform.machine()]
    parent = os.getppid()
    out = {{}}

    def call(name, result):
        out[name] = "allowed" if result >= 0 else _errno()

    call("ptrace attach", libc.ptrace(16, parent, None, None))
    buffer = ctypes.create_string_buffer(64)
    local = (ctypes.c_void_p * 2)(ctypes.cast(buffer, ctypes.c_void_p), 64)
    remote = (ctypes.c_void_p * 2)(0x400000, 64)
    call("process_vm_readv", libc.syscall(numbers["process_vm_readv"], parent, local, 1, remote, 1, 0))
    call("unshare user", libc.unshare(0x10000000))
    call("unshare net", libc.unshare(0x40000000))
    pid = libc.syscall(numbers["clone"], 0x20000000 | 17, 0, 0, 0, 0)  # CLONE_NEWPID | SIGCHLD
    if pid == 0:
        os._exit(0)
    call("clone newpid", pid)
    if pid > 0:
        os.waitpid(pid, 0)
    call("setns", libc.syscall(numbers["setns"], -1, 0))
    call("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
    for name in ("bpf", "perf_event_open", "keyctl", "io_uring_setup"):
        call(name, libc.syscall(numbers[name], 0, 0, 0, 0, 0))
    out["setsid"] = _try(os.setsid)
    out["setpgid"] = _try(lambda: os.setpgid(0, 0))
    out["signal parent"] = _try(lambda: os.kill(parent, 0))
    for family in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX"):
        out[f"socket {{family}}"] = _try(lambda: socket.socket(getattr(socket, family), socket.SOCK_RAW
                                                               if family == "AF_PACKET" else socket.SOCK_DGRAM).close())
    for path in (f"/proc/{{parent}}/environ", f"/proc/{{parent}}/cmdline", f"/proc/{{parent}}/mem", "/proc/1/cmdline"):
        out[f"read {{path}}"] = _try(lambda: open(path, "rb").read(1))
    out["readlink parent cwd"] = _try(lambda: os.readlink(f"/proc/{{parent}}/cwd"))
    for path in READ:
        out[f"read {{path}}"] = _try(lambda: os.listdir(path) if os.path.isdir(path) else open(path, "rb").read(1))
    here = os.path.dirname(os.path.abspath(__file__))
    for place in WRITE + [sysconfig.get_paths()["purelib"], here, "/tmp", "/dev/shm"]:
        target = os.path.join(place, f"cnngrade-hostile-escape-{{os.getpid()}}")
        out[f"write {{place}}"] = _try(lambda: open(target, "w").write("x"))
    out["write own folder"] = _try(lambda: open("cnngrade-hostile-own", "w").write("x"))
    out["chmod own file"] = _try(lambda: os.chmod(os.path.join(here, "lab4_cnn.py"), 0o777))
    return out


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError("PROBE<<" + json.dumps(_attacks()) + ">>PROBE")

    def forward(self, x):
        return x
'''


def container_or_skip() -> None:
    """Skip where this machine cannot play a container (:func:`tests.container.container_problem`)."""
    problem = container_problem()
    if problem:
        pytest.skip(problem)


def in_container(command: list[str], *, cwd: Path | str, env: dict | None,
                 timeout: float) -> subprocess.CompletedProcess:
    """:func:`run_fresh` for ``command`` run as a Docker container runs it (tests/container.py), in ``env``
    less ``CNNGRADE_SANDBOX``: a container's grader chooses its sandbox itself (and a test beside this
    job may have set it for its own gradings)."""
    env = {k: v for k, v in (os.environ if env is None else env).items() if k != "CNNGRADE_SANDBOX"}
    return run_fresh([sys.executable, str(CONTAINER), *command], cwd=cwd, env=env, timeout=timeout)


@background("container_reference", cost=20)
def grade_the_reference_in_a_container(_scratch: Path, _warm: Runner) -> tuple[subprocess.CompletedProcess, dict]:
    """``cnngrade grade reference -- -k CHEAP`` in a container: its output and results.json."""
    container_or_skip()
    scratch = Path(tempfile.mkdtemp(prefix="cnngrade-container-"))
    try:
        results = scratch / "results.json"
        proc = in_container([sys.executable, "-m", "cnngrade", "grade", str(REFERENCE), f"--results-json={results}",
                             "--", "-k", CHEAP], cwd=scratch, env=dict(os.environ), timeout=600)
        return proc, json.loads(results.read_text()) if results.is_file() else {}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def escape_submission(directory: Path) -> Path:
    """``escape`` (see the module's docstring) in ``directory``: it reads the grader's files and another
    student's (network's, graded in the same run), and writes into the repository."""
    data = sorted((ROOT / "cnngrade" / "data").glob("*.npz"))[:1]
    read = [str(ROOT / "graders" / "lab.toml"), str(REFERENCE / "lab4_cnn.py"), *map(str, data), str(ROOT),
            str(HOSTILE / "network" / "lab4_cnn.py"), "/usr/share/datasets", "/root", "/etc/shadow", "/etc/passwd",
            "/", "/tmp", os.path.expanduser("~/.cache")]
    write = [str(ROOT), str(REFERENCE), str(ROOT / "cnngrade")]
    (directory / "escape").mkdir(parents=True)
    (directory / "escape" / "lab4_cnn.py").write_text(ESCAPE.format(read=read, write=write))
    return directory / "escape"


def tolerant_spy(directory: Path) -> Path:
    """tests/hostile/spy, whose report reads what this tier refuses (instead of hiding) as nothing."""
    source = (HOSTILE / "spy" / "lab4_cnn.py").read_text()
    assert source.count("def report():\n") == 1, "the spy's report() changed"
    (directory / "spy").mkdir(parents=True)
    (directory / "spy" / "lab4_cnn.py").write_text(source.replace("def report():\n", TOLERANT))
    return directory / "spy"


@background("container_hostile", cost=30)
def grade_hostile_submissions_in_a_container(_scratch: Path, _warm: Runner) -> dict[str, Grade]:
    """The reference, the hostile submissions (tolerant spy, escape, FROM_CORPUS) and the reference again,
    in one ``--isolated`` run in a container without cgroups; their grades by name."""
    container_or_skip()
    scratch = Path(tempfile.mkdtemp(prefix="cnngrade-container-hostile-"))
    os.chmod(scratch, 0o755)
    try:
        submissions = [REFERENCE, tolerant_spy(scratch), escape_submission(scratch),
                       *(HOSTILE / name for name in FROM_CORPUS), REFERENCE]
        env = {**os.environ, "CNNGRADE_CGROUPS": "0", "CNNGRADE_MAX_RESTARTS": "0"}
        return run_graders_on_each(submissions, ROOT / "graders", "--isolated", f"--call-timeout={HANGING_TIMEOUT}",
                                   cwd=scratch, files=HOSTILE_NET_GRADERS, env=env, runner=in_container, timeout=900)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report_between(text: str, start: str, end: str) -> dict:
    match = re.search(re.escape(start) + r"(.*?)" + re.escape(end), text, re.S)
    assert match, f"no {start}...{end} report in {text[:1500]!r}"
    return json.loads(match.group(1))


# --------------------------------------------------------------------------- in a container


@pytest.mark.grades("container_reference")
def test_the_reference_gets_full_marks_in_a_container(corpus):
    proc, results = corpus.result("container_reference")
    output = proc.stdout + proc.stderr
    backend = [line for line in proc.stdout.splitlines() if line.startswith("Backend:")]
    assert len(backend) == 1 and "confined by Landlock (ABI" in backend[0], output
    assert "as a uid of its own" in backend[0], output
    for tier in ("fork", "bwrap", "unshare"):  # each failed its trial run, saying why
        assert f"cnngrade: sandbox {tier} failed its trial run" in proc.stderr, output
    assert proc.returncode == 0, output
    assert results["extra_data"]["backend"] == "isolated (landlock)", results.get("extra_data")
    assert "confined by Landlock (ABI" in results["extra_data"]["sandbox"]  # what protects the grading, in words
    assert len(results["tests"]) == 4 and results["score"] == results["max_score"] == 34, output


@pytest.mark.grades("container_hostile")
def test_the_reference_graded_around_hostile_submissions_keeps_its_marks(corpus):
    grades = corpus.result("container_hostile")
    before, after = grades["reference"], grades["reference-2"]
    assert before.failed() == {} and after.failed() == {}, before.stdout[-3000:]
    assert before.score == after.score == before.max_score > 0
    assert "confined by Landlock" in before.stdout and "as a uid of its own" in before.stdout
    assert "no total memory cap (cgroups unavailable: turned off by CNNGRADE_CGROUPS=0)" in before.stdout


@pytest.mark.grades("container_hostile")
@pytest.mark.parametrize("name", SAME_VERDICT)
def test_a_hostile_submission_gets_the_verdict_the_namespace_tiers_give(corpus, name):
    """As tests/test_hostile.py holds it: the listed checks fail with their reason, the honest part passes."""
    result, verdict = corpus.result("container_hostile")[name], EXPECTED[name]
    failed, ran = result.failed(), set(result.checks)
    for check, words in verdict.failed.items():
        assert check in failed and matches(failed[check], words), f"{check}: {result.checks.get(check)}"
    assert verdict.passed <= result.passed(), {c: result.checks[c]["output"] for c in verdict.passed}
    if verdict.others is not None:
        for check in ran - verdict.passed - set(verdict.failed):
            assert check in failed and verdict.others in failed[check], f"{check}: {result.checks[check]}"
    assert all(FORGED_MARK not in info["output"] and "Traceback" not in info["output"]
               for info in result.checks.values())
    assert result.score < result.max_score and result.exit_code == 1


@pytest.mark.grades("container_hostile")
def test_no_network_and_a_full_disk_stop_only_their_submission(corpus):
    grades = corpus.result("container_hostile")
    network, disk = grades["network"], grades["fill_disk"]
    assert network.passed() == set() and disk.passed() == set()
    assert all("Address family not supported" in output for output in network.failed().values()), network.failed()
    limit = "wrote more than 256 MiB or 10000 files into their temporary folder (its limit)"
    assert all(limit in output or "not started again" in output for output in disk.failed().values()), disk.failed()
    assert not [p for p in planted_files() if "filler-" in p or "cnngrade-hostile" in p]


@pytest.mark.grades("container_hostile")
def test_the_spy_sees_nothing_of_the_graders_and_has_no_privilege(corpus):
    report = report_between(corpus.result("container_hostile")["spy"].failed()["test_net_builds"], "SPY<<", ">>SPY")
    assert report["secrets"] == [], report["secrets"]
    assert report["uid"] == report["euid"] and sandbox.UID_BASE <= report["uid"] < sandbox.UID_BASE + sandbox.UID_COUNT
    assert report["groups"] == [] or report["groups"] == [report["uid"]]
    assert int(report["capabilities"]["CapEff"], 16) == int(report["capabilities"]["CapPrm"], 16) == 0
    assert report["capabilities"]["NoNewPrivs"] == "1"
    assert report["user_namespace"].startswith("refused"), report["user_namespace"]
    assert report["network"]["dns"] != "resolved" and report["network"]["connect"] != "connected"
    assert report["network"]["interfaces"] == ["refused (errno 97)"]
    assert report["pids"] == []  # /proc's listing is refused
    (writable,) = report["writable"]  # its own folder, nothing else
    assert writable == report["cwd"] and re.fullmatch(r".*/cnngrade-sandbox-[^/]+/tmp-[^/]+", writable), report
    allowed = set(sandbox.child_env(1, False)) | {"PWD"}
    assert set(report["env"]) <= allowed, set(report["env"]) - allowed


@pytest.mark.grades("container_hostile")
def test_every_way_out_is_refused(corpus):
    result = corpus.result("container_hostile")["escape"]
    outcomes = report_between(result.failed()["test_net_builds"], "PROBE<<", ">>PROBE")
    allowed = {name for name, outcome in outcomes.items() if outcome == "allowed"}
    assert allowed == {"write own folder"}, {n: outcomes[n] for n in allowed}
    assert outcomes["ptrace attach"] == outcomes["process_vm_readv"] == outcomes["unshare user"] == "EPERM"
    assert outcomes["socket AF_INET"] == outcomes["socket AF_NETLINK"] == outcomes["socket AF_UNIX"] == "EAFNOSUPPORT"
    assert outcomes[f"read {ROOT / 'graders' / 'lab.toml'}"] == "EACCES"
    assert len(outcomes) > 40


# --------------------------------------------------------------------------- the confinement itself


KEEP = '''
import json, os, socket, sys, tempfile
sys.path.insert(0, {root!r})
from cnngrade.submission.isolated import unprivileged
folder = tempfile.mkdtemp()
parent = os.getpid()
reads, writes = os.pipe()
pid = os.fork()
if pid == 0:
    out = {{}}
    def attempt(name, action):
        try:
            action()
            out[name] = "allowed"
        except OSError as exc:
            out[name] = exc.strerror
    try:
        unprivileged.confine({{"read": ["/usr"], "write": folder, "drop": "keep", "devices": ["/dev/null"],
                               "reroute": []}}, {{"uid": os.getuid(), "gid": os.getgid(), "rlimits": {{}}}}, parent)
    except OSError as exc:
        out["confine"] = str(exc)
    attempt("read the repository", lambda: open({pyproject!r}).read())
    attempt("read /usr", lambda: open("/usr/lib/os-release").read())
    attempt("write its folder", lambda: open(os.path.join(folder, "x"), "w").write("x"))
    attempt("chmod its file", lambda: os.chmod(os.path.join(folder, "x"), 0o777))
    attempt("signal the grader", lambda: os.kill(parent, 0))
    attempt("ptrace the grader's /proc", lambda: open(f"/proc/{{parent}}/environ").read())
    attempt("unix socket", lambda: socket.socket(socket.AF_UNIX).close())
    attempt("socketpair", lambda: [s.close() for s in socket.socketpair()])
    attempt("setsid", os.setsid)
    os.write(writes, json.dumps(out).encode())
    os._exit(0)
os.close(writes)
print(os.read(reads, 1 << 16).decode())
os.waitpid(pid, 0)
'''


def test_a_child_that_keeps_the_graders_uid_is_confined():
    """An ordinary user's child keeps its uid: Landlock keeps it from the grader's files, signals and
    /proc, seccomp from chmod (which Landlock does not cover), Unix sockets (the user's own daemons
    would answer it) and setsid. Run as uid 65534 with the system's Python (the module needs only the
    standard library)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run as uid 65534")
    python, setpriv = shutil.which("python3", path="/usr/bin:/bin"), shutil.which("setpriv")
    if python is None or setpriv is None:
        pytest.skip("needs /usr/bin/python3 and setpriv")
    try:
        version = landlock.abi()
    except landlock.LandlockError as exc:
        pytest.skip(f"no Landlock here: {exc}")
    if version < 6 or seccomp.supported():
        pytest.skip(f"Landlock ABI {version} < 6, or {seccomp.supported()}")
    script = KEEP.format(root=str(ROOT), pyproject=str(ROOT / "pyproject.toml"))
    proc = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", script],
                          capture_output=True, text=True, timeout=60, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "confine" not in out, out
    assert {name for name, outcome in out.items() if outcome == "allowed"} == {
        "read /usr", "write its folder", "socketpair"}, out
    assert out["chmod its file"] == out["signal the grader"] == out["setsid"] == "Operation not permitted"
    assert out["read the repository"] == "Permission denied"


def test_the_filters_jumps_fit_and_every_refused_call_has_a_number():
    for arch in seccomp.TABLES:
        for shared in (False, True):
            code = seccomp.program(shared_uid=shared, unix_sockets=not shared, arch=arch)
            assert len(code) % 8 == 0 and len(code) // 8 < 200
    assert set(seccomp.REFUSED) <= set(seccomp.TABLES["x86_64"][1])
    assert set(seccomp.REFUSED_SHARED_UID) <= set(seccomp.TABLES["x86_64"][1])


def test_the_landlock_view_leaves_out_what_the_other_tiers_mask(tmp_path):
    """The read paths come from the namespace tiers' mounts, less their masks: never the repository,
    the bundled data or /usr/share/datasets."""
    mounts = sandbox.child_mounts(str(tmp_path), 1 << 20, 1 << 20, False)
    reads = unprivileged.read_paths(mounts)
    assert str(tmp_path) in reads
    for path in reads:
        assert not (path == str(ROOT) or path.startswith(str(ROOT) + "/")) or "/.venv" in path, path
        assert not (path == "/usr/share/datasets" or path.startswith("/usr/share/datasets/")), path
        assert path != "/usr" or not os.path.isdir("/usr/share/datasets")
    if os.path.isdir("/usr/share/datasets"):
        assert "/usr/bin" in reads and "/usr/share/doc" in reads


def test_a_step_that_cannot_be_applied_stops_the_child_before_it_runs(tmp_path):
    """Fail closed: a child whose private folder is missing (Landlock cannot grant it) exits with status
    125 and says why; the code it was forked to run never runs."""
    from cnngrade.submission.isolated import zygote

    problem = unprivileged.unavailable(os.geteuid() == 0)
    if problem:
        pytest.skip(f"the landlock tier cannot run here: {problem}")
    box = sandbox.Sandbox("landlock", os.geteuid() == 0, {})
    staging = tmp_path / "staging"
    staging.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    marker = tmp_path / "ran"
    spec = sandbox.ChildSpec(argv=[sys.executable, "-c", "pass"], env={"PATH": "/usr/bin:/bin"},
                             mounts=[sandbox.Mount("tmpfs", sandbox.TMP, size=1 << 20), *sandbox.system_mounts()],
                             uid=sandbox.allocate_uid())
    forked = {**box.fork_spec(spec, staging), "cgroup_procs": [], "check": f"open({str(marker)!r}, 'w')"}
    forked["confine"]["write"] = str(tmp_path / "missing")
    server = zygote.ForkServer({"PATH": "/usr/bin:/bin", "PYTHONPATH": sandbox.staged_package()}, preload="none")
    log_read, log_write = os.pipe()
    fds = [os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY), log_write]
    try:
        code = server.spawn(forked, fds).wait(60)
    finally:
        for fd in fds:
            os.close(fd)
        server.close()
    with os.fdopen(log_read, "rb") as log:
        said = log.read().decode()
    assert code == 125 and "cnngrade sandbox set-up (landlock) failed: the private folder" in said, (code, said)
    assert not marker.exists()
