"""A real Slurm: the README's job array grades a small class in shards that merge to the unsharded gradebook.

The fixture starts a one-node cluster on this machine (Debian's ``slurm-wlm`` and ``munge``, installed with
apt-get where they are missing): a munged of its own (its own key and socket, run as the ``munge`` user),
slurmctld and slurmd in the foreground, with a minimal slurm.conf in a temporary folder (cons_tres, CR_Core,
proctrack/linuxproc, task/none, no accounting, free ports), and stops every daemon it started, whatever
happens. It needs root and apt-get (CI has both); elsewhere the test skips and says why.

Four students (the reference, the softmax mistake and two more, so that each shard of 3 holds one or two) are
graded in-process on two cheap checks, as the README types it, from the class's folder with relative paths:
once whole, by ``sbatch --array=1-3`` and by a stepped ``--array=1-5:2`` (the three at once), then task 3
submitted again alone (refused without ``CNNGRADE_SHARDS``; shard 3/3 with it); each merge equals the
gradebook of the unsharded batch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnngrade.batch.shards import Shard
from tests.paths import ROOT, TESTS
from tests.test_batch import read_gradebook, without_seconds

pytestmark = pytest.mark.deploy  # installs slurm-wlm and munge, starts a cluster: `./run test -m deploy`

#: the class: student name -> the submission copied under that name (the name decides the shard)
STUDENTS = {"ada": ROOT / "reference", **{name: TESTS / "buggy" / name
                                         for name in ("softmax", "hardcoded_batch", "wrong_channels")}}
#: the array command of docs/instructors.md, on the structure checks only
BATCH = ('cnngrade batch subs --out grades-$SLURM_ARRAY_TASK_ID --in-process -- '
         '-k "test_net_builds or test_output_shape"')
PACKAGES = ("slurm-wlm", "munge")
#: where ``cnngrade`` is: the environment running the tests
BIN = Path(sys.executable).parent
COMMANDS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel")


def install_or_skip() -> None:
    """Slurm and munge from Debian's packages where they are missing; skips, saying why, where the cluster cannot
    be started (not root, no setpriv, no apt-get, the packages not installed)."""
    if not shutil.which("setpriv"):
        pytest.skip("util-linux's setpriv is not installed (it has the cluster killed if the tests' process dies)")
    if os.geteuid() != 0:
        pytest.skip("a one-node Slurm needs root (slurmd, and munged started as the munge user)")
    if all(shutil.which(command) for command in COMMANDS):
        return
    if not (shutil.which("apt-get") and Path("/etc/debian_version").exists()):
        pytest.skip("Slurm is not installed and this is no Debian system with apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if run.returncode != 0:
            pytest.skip(f"`{' '.join(command)}` failed (offline?): {(run.stdout + run.stderr)[-500:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    """A running one-node Slurm; :meth:`sbatch` submits to it."""

    env: dict[str, str]

    def sbatch(self, array: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
        """``sbatch --array=ARRAY --wait`` of the README's command in ``cwd`` (each task's log ``log-<task>.txt``),
        with ``env`` added to what the jobs inherit."""
        return subprocess.run(["sbatch", "--quiet", "--wait", f"--array={array}", "--output=log-%a.txt",
                               "--wrap", BATCH], cwd=cwd, env={**self.env, **env}, capture_output=True, text=True,
                              timeout=300)


def slurm_conf(folder: Path, munge_socket: Path) -> str:
    """A one-node cluster of this machine, everything it writes in ``folder``."""
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    host = node.split()[0].removeprefix("NodeName=")
    return "\n".join([
        "ClusterName=cnngrade", f"SlurmctldHost={host}(127.0.0.1)", f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}", "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge",
        "CredType=cred/munge", f"AuthInfo=socket={munge_socket}", f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}", f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}", f"SlurmctldLogFile={folder / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'slurmd.log'}", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none", "MpiDefault=none",
        "SchedulerType=sched/builtin", "ReturnToService=2",
        # sbatch --wait polls every 2 s where MinJobAge is under 6 s (else after 2, 8, then 32 s more)
        "MinJobAge=4",
        f"{node} NodeAddr=127.0.0.1", "PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""])


#: run as ``python -c REAPER CONF``: once sent SIGTERM (by the fixture, or by the kernel when the tests'
#: process dies: ``setpriv --pdeathsig``), SIGKILL to every process left whose environment holds
#: ``SLURM_CONF=CONF``: the cluster's daemons, the jobs' slurmstepd (each in a session of its own), jobs, sbatch
REAPER = """
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
print("ready", flush=True)
signal.sigwait({signal.SIGTERM})
mark = ("SLURM_CONF=" + sys.argv[1]).encode()
for _ in range(3):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                if mark in environ.read().split(b"\\0"):
                    os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
"""


def start_reaper(stack: ExitStack, conf: Path) -> None:
    """:data:`REAPER` for the cluster of ``conf``, run when ``stack`` closes or this process dies."""
    reaper = subprocess.Popen(["setpriv", "--pdeathsig", "TERM", "--", sys.executable, "-c", REAPER, str(conf)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert reaper.stdout is not None and reaper.stdout.readline() == "ready\n"

    def reap() -> None:
        reaper.terminate()
        reaper.wait(30)

    stack.callback(reap)


def start(stack: ExitStack, command: list[str], log: Path, env: dict[str, str], **options) -> subprocess.Popen:
    """``command`` started in a process group of its own, stopped (SIGTERM, then SIGKILL) when ``stack`` closes."""
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True, **options)

    def stop() -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
                return

    stack.callback(stop)
    return process


def wait_until_idle(env: dict[str, str], processes: list[subprocess.Popen], logs: list[Path]) -> None:
    """Returns once the node is idle; fails, with the daemons' ``logs``, if a process ends first or a minute passes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            break
        state = subprocess.run(["sinfo", "--noheader", "--format=%t"], env=env, capture_output=True, text=True)
        if state.stdout.strip() == "idle":
            return
        time.sleep(0.2)
    pytest.fail("the one-node Slurm did not come up:\n" + "\n".join(f"{log}:\n{log.read_text()[-1500:]}"
                                                                     for log in logs if log.exists()))


def cancel_jobs(env: dict[str, str]) -> None:
    """Every job of the cluster cancelled, and gone (a test that failed may leave some)."""
    subprocess.run(["scancel", "--full", "--quiet", "--user=root"], env=env, timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and subprocess.run(["squeue", "--noheader"], env=env, capture_output=True,
                                                         text=True, timeout=30).stdout.strip():
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A one-node Slurm on this machine, everything it writes in a temporary folder; every process it started
    is stopped at the end (the jobs, then the daemons), or killed if the tests' process dies (:data:`REAPER`)."""
    install_or_skip()
    with tempfile.TemporaryDirectory(prefix="cnngrade-slurm-") as scratch, ExitStack() as stack:
        folder = Path(scratch)
        conf = folder / "slurm.conf"
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("SLURM_") and name != "CNNGRADE_SHARDS"}
        env |= {"SLURM_CONF": str(conf), "PATH": f"{BIN}:{env['PATH']}"}
        start_reaper(stack, conf)
        socket_path = start_munged(stack, folder, env)
        for name in ("state", "spool"):
            (folder / name).mkdir()
        conf.write_text(slurm_conf(folder, socket_path))
        daemons = [start(stack, [daemon, "-D"], folder / f"{daemon}.out", env) for daemon in ("slurmctld", "slurmd")]
        stack.callback(cancel_jobs, env)  # before the daemons stop
        wait_until_idle(env, daemons, [folder / f"{name}.out" for name in ("munged", "slurmctld", "slurmd")])
        yield Cluster(env)


def start_munged(stack: ExitStack, folder: Path, env: dict[str, str]) -> Path:
    """A munged of the cluster's own (its key, its socket: none of the machine's), run as the munge user; its
    socket."""
    folder.chmod(0o755)  # munged reaches its socket through it
    munge = folder / "munge"
    munge.mkdir(mode=0o755)
    shutil.chown(munge, "munge", "munge")
    key, socket_path = munge / "munge.key", munge / "munge.socket"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, user="munge", group="munge")
    munged = start(stack, ["munged", "--foreground", f"--socket={socket_path}", f"--key-file={key}",
                           f"--log-file={munge / 'munged.log'}", f"--pid-file={munge / 'munged.pid'}",
                           f"--seed-file={munge / 'munged.seed'}"], folder / "munged.out", env,
                   user="munge", group="munge")
    deadline = time.monotonic() + 10
    while not socket_path.exists() and munged.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return socket_path


def logs(folder: Path) -> str:
    """The end of each task's log in ``folder``, for a failure's message."""
    return "\n".join(f"{log.name}: {log.read_text()[-1500:]}" for log in sorted(folder.glob("log-*.txt")))


def merged(folder: Path, *shards: str) -> dict[str, dict[str, str]]:
    """``cnngrade merge SHARDS... --out grades`` in ``folder``: the merged gradebook, without seconds."""
    shutil.rmtree(folder / "grades", ignore_errors=True)
    run = subprocess.run([BIN / "cnngrade", "merge", *shards, "--out", "grades"], cwd=folder, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    return without_seconds(read_gradebook(folder / "grades"))


@dataclass
class Graded:
    """The class graded once whole, by ``sbatch --array=1-3`` and by ``sbatch --array=1-5:2``."""

    #: the class's folder (``subs``, ``whole``, ``grades-1`` to ``grades-3``)
    here: Path
    #: a folder of its own for the stepped array (``subs``: a link to the class's)
    stepped: Path
    #: the unsharded gradebook, without seconds
    rows: dict[str, dict[str, str]]
    array: subprocess.CompletedProcess
    stepped_array: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def graded(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """The class graded whole (the README's command, run directly), by ``--array=1-3`` and by ``--array=1-5:2``,
    the three at once."""
    here, stepped = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("stepped")
    for name, source in STUDENTS.items():
        shutil.copytree(source, here / "subs" / name)
    (stepped / "subs").symlink_to(here / "subs")
    with ThreadPoolExecutor(3) as pool:
        whole = pool.submit(subprocess.run, BATCH.replace("grades-$SLURM_ARRAY_TASK_ID", "whole"), shell=True,
                            cwd=here, env=cluster.env, capture_output=True, text=True, timeout=300)
        array, stepped_array = pool.submit(cluster.sbatch, "1-3", here), pool.submit(cluster.sbatch, "1-5:2", stepped)
    assert whole.result().returncode == 0, whole.result().stderr
    return Graded(here, stepped, without_seconds(read_gradebook(here / "whole")), array.result(),
                  stepped_array.result())


def test_the_readme_array_grades_shards_that_merge_to_the_unsharded_gradebook(graded):
    assert [[k for k in (1, 2, 3) if Shard(k, 3).holds(name)] for name in STUDENTS] == [[3], [3], [2], [1]]
    rows = graded.rows
    assert sorted(rows) == sorted(STUDENTS) and rows["ada"]["score"] == "15" and rows["hardcoded_batch"]["score"] == "5"
    assert graded.array.returncode == 0, graded.array.stderr + logs(graded.here)
    assert "cnngrade batch: shard 2/3 (from Slurm's array task 2 of 1-3:1)" in (graded.here / "log-2.txt").read_text()
    assert merged(graded.here, "grades-1", "grades-2", "grades-3") == rows


def test_a_stepped_array_is_numbered_in_order(graded):
    assert graded.stepped_array.returncode == 0, graded.stepped_array.stderr + logs(graded.stepped)
    assert "shard 2/3 (from Slurm's array task 3 of 1-5:2)" in (graded.stepped / "log-3.txt").read_text()
    assert merged(graded.stepped, "grades-1", "grades-3", "grades-5") == graded.rows


def test_a_task_submitted_again_alone_needs_cnngrade_shards(cluster, graded):
    """Task 3 failed (its folder is gone): submitted again alone, it is refused, saying what to type; with
    ``CNNGRADE_SHARDS=3`` it grades shard 3/3, and the shards merge to the unsharded gradebook again."""
    here = graded.here
    shutil.rmtree(here / "grades-3", ignore_errors=True)
    alone = cluster.sbatch("3", here)
    log = (here / "log-3.txt").read_text()
    assert alone.returncode == 2, alone.stderr + log
    assert ("cnngrade batch: Slurm array task 3 is the only task of its array (a task submitted alone, such as "
            "`sbatch --array=3`), so the array does not say how many shards the class is split into: pass "
            "`--shard K/N` to `cnngrade batch`, or export CNNGRADE_SHARDS=N before `sbatch`") in log
    assert not (here / "grades-3").exists()
    again = cluster.sbatch("3", here, CNNGRADE_SHARDS="3")
    log = (here / "log-3.txt").read_text()
    assert again.returncode == 0, again.stderr + log
    assert "cnngrade batch: shard 3/3 (from Slurm's SLURM_ARRAY_TASK_ID 3 and $CNNGRADE_SHARDS)" in log
    assert merged(here, "grades-1", "grades-2", "grades-3") == graded.rows
