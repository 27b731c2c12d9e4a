"""The cgroup of a sandboxed child (cnngrade/submission/isolated/cgroups.py), on this machine: made with
its limits, joined before exec, frozen and thawed, killed, removed; and the backend's use of it.

Where no cgroup can be made here (not root, no cgroup file system, read-only), the tests skip and say
why, unless ``CNNGRADE_REQUIRE_SANDBOX`` is set (as ``.ci/run`` does): then they fail, as the sandbox's do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cnngrade.submission.isolated import IsolatedSubmission, cgroups, sandbox
from cnngrade.submission.isolated.limits import GiB, Limits, MiB
from tests.paths import ROOT
from tests.sandboxes import sandbox_or_skip


def cgroups_or_skip() -> cgroups.Hierarchy:
    """Where this machine's children get cgroups; skips (or, where a sandbox is required, fails) without."""
    found = cgroups.hierarchy()
    if isinstance(found, str):
        reason = f"no cgroups on this machine: {found}"
        if os.environ.get("CNNGRADE_REQUIRE_SANDBOX", "") not in ("", "0"):
            pytest.fail(f"{reason} (CNNGRADE_REQUIRE_SANDBOX is set)")
        pytest.skip(reason)
    return found


@pytest.fixture
def no_cgroups(monkeypatch):
    """cgroups turned off (CNNGRADE_CGROUPS=0) for the test."""
    monkeypatch.setenv("CNNGRADE_CGROUPS", "0")
    cgroups.hierarchy.cache_clear()
    yield
    monkeypatch.undo()
    cgroups.hierarchy.cache_clear()


def run_in(group: cgroups.Cgroup, code: str) -> subprocess.Popen:
    return subprocess.Popen(group.command([sys.executable, "-S", "-c", code]), stdout=subprocess.PIPE, text=True)


def read(directory: str, name: str) -> str:
    return Path(directory, name).read_text().strip()


def cpu_ticks(pids: list[int]) -> int:
    """User + system clock ticks of the processes ``pids`` so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


SPIN_TWO = "import os\nos.fork()\nwhile True:\n    pass\n"


def test_a_cgroup_is_made_with_its_limits_frozen_thawed_killed_and_removed():
    found = cgroups_or_skip()
    group = cgroups.Cgroup(found, memory=256 * MiB, tasks=16)
    try:
        assert all(os.path.isdir(p) for p in group.paths)
        limit = "memory.max" if found.version == 2 else "memory.limit_in_bytes"
        assert read(group.memory_dir, limit) == str(256 * MiB)
        assert read(group.pids_dir, "pids.max") == "16"
        proc = run_in(group, SPIN_TWO)  # it joins before exec, and its fork is born inside
        wait_for(lambda: len(group.pids()) == 2)
        assert proc.pid in group.pids()
        pids = group.pids()
        group.freeze()
        time.sleep(0.1)
        frozen = cpu_ticks(pids)
        time.sleep(0.5)
        assert cpu_ticks(pids) == frozen
        group.thaw()
        time.sleep(0.5)
        assert cpu_ticks(pids) > frozen
        group.kill()
        assert proc.wait(timeout=10) == -9
        wait_for(lambda: group.pids() == [])
    finally:
        assert group.remove()
    assert not any(os.path.exists(p) for p in group.paths)


def test_the_memory_limit_covers_all_processes_together():
    """Four processes of 100 MiB each under a limit of 256 MiB: each alone fits, together they do not."""
    found = cgroups_or_skip()
    group = cgroups.Cgroup(found, memory=256 * MiB, tasks=16)
    code = ("import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n        block = b'1' * (100 << 20)\n"
            "        time.sleep(1)\n        os._exit(0)\nprint(sum(os.wait()[1] != 0 for _ in range(4)))\n")
    try:
        proc = run_in(group, code)
        killed = int(proc.communicate(timeout=60)[0])
        assert proc.returncode == 0
        assert killed >= 1 and group.oom_kills() >= 1
        peak = group.peak()
        assert peak is None or peak <= 256 * MiB
    finally:
        assert group.remove()


def test_the_pids_limit_stops_forks():
    found = cgroups_or_skip()
    group = cgroups.Cgroup(found, memory=256 * MiB, tasks=6)
    code = ("import os, time\nmade = 0\nfor _ in range(20):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(5)\n            os._exit(0)\n        made += 1\n    except OSError:\n"
            "        pass\nprint(made, flush=True)\ntime.sleep(5)\n")
    proc = run_in(group, code)
    try:
        assert proc.stdout is not None
        assert int(proc.stdout.readline()) == 5  # 6 tasks: the parent and 5 forks
    finally:
        group.kill()
        proc.wait(timeout=10)
        assert group.remove()


def test_the_description_names_the_memory_cap(monkeypatch):
    found = cgroups_or_skip()
    box = sandbox.Sandbox("bwrap", os.geteuid() == 0, {})
    assert box.description.endswith(f"; memory capped at 4 GiB for all its processes (cgroup v{found.version})")
    monkeypatch.setenv("CNNGRADE_MEMORY_LIMIT", "1536M")
    assert "memory capped at 1.5 GiB for all its processes" in box.description
    assert Limits.from_env().memory == 3 * GiB // 2


def test_without_cgroups_the_description_says_so(no_cgroups):
    box = sandbox.Sandbox("unshare", True, {})
    assert box.description.endswith("; no total memory cap (cgroups unavailable: turned off by CNNGRADE_CGROUPS=0): "
                                    "per-process address-space limit only")


def test_a_child_runs_in_its_cgroup_until_it_is_closed():
    sandbox_or_skip()
    cgroups_or_skip()
    handle = IsolatedSubmission(ROOT / "reference")
    try:
        assert handle.forward(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
        child = handle._child
        assert child is not None and child.cgroup is not None
        paths = child.cgroup.paths
        assert child.proc.pid in child.cgroup.pids() and len(child.cgroup.pids()) >= 2  # the sandbox and Python
        assert read(child.cgroup.freezer_dir, "cgroup.freeze" if child.cgroup.version == 2 else "freezer.state") in (
            "1", "FROZEN", "FREEZING")  # paused between calls
    finally:
        handle.close()
    assert not any(os.path.exists(p) for p in paths)


def test_without_cgroups_the_proc_sweep_still_pauses_an_escaped_process(no_cgroups):
    sandbox_or_skip()
    from tests.test_hostile import background_rounds

    during, escaped, between = background_rounds("setsid_background")
    assert escaped and between < during / 2, (during, between)


KILLED_GRADER = """
import json, sys, time
from pathlib import Path
from cnngrade.submission.isolated import IsolatedSubmission
handle = IsolatedSubmission(Path(sys.argv[1]))
handle.build_net()  # the child now waits, frozen, for the next call
print(json.dumps({"paths": handle._child.cgroup.paths, "pids": handle._child.cgroup.pids()}), flush=True)
time.sleep(600)
"""


def test_a_grading_process_killed_by_sigkill_leaves_no_sandbox_behind():
    """Killed between two calls, while its child is frozen (a frozen process does not die of
    SIGKILL), the grading process leaves no sandboxed process and no cgroup: its fork server thaws,
    kills and reaps the child and removes its cgroups."""
    sandbox_or_skip()
    cgroups_or_skip()
    if sandbox.detect().tool != "fork":
        pytest.skip("only the fork server's children are thawed when their grading process is killed")
    grader = subprocess.Popen([sys.executable, "-c", KILLED_GRADER, str(ROOT / "reference")], stdout=subprocess.PIPE,
                              text=True)
    try:
        started = json.loads(grader.stdout.readline())
    finally:
        grader.kill()
        grader.wait()
    assert started["pids"], "the child had no process in its cgroup"
    wait_for(lambda: not any(os.path.exists(p) for p in started["paths"]))
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in started["pids"]))  # reaped too


def test_empty_cgroups_of_killed_graders_are_swept_and_no_others():
    """A grading process killed by SIGKILL leaves its children's cgroups, empty: the next grading
    process removes those (their grader's pid no longer runs), never one of a running grader."""
    found = cgroups_or_skip()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    left = [os.path.join(parent, f"{cgroups.PREFIX}{dead}-7") for parent in found.parents]
    alive = [os.path.join(parent, f"{cgroups.PREFIX}{os.getpid()}-999") for parent in found.parents]
    for path in left + alive:
        os.mkdir(path)
    try:
        assert cgroups.sweep(found) >= len(left)
        assert not any(os.path.exists(path) for path in left) and all(os.path.exists(path) for path in alive)
    finally:
        for path in left + alive:
            if os.path.exists(path):
                os.rmdir(path)
