"""Where a full grading of the reference spends its time, in-process and in each sandbox tier, side by side.

The issue's targets: the reference's full grading in at most 15 s in-process and 20 s isolated on a
quiet 2-core machine. Each round runs ``cnngrade grade reference/`` as a fresh process (as a user does)
with ``--in-process`` and sandboxed in each tier (``CNNGRADE_SANDBOX=fork|bwrap|unshare|landlock``), one
after the other (the order rotated each round), and splits its wall time into phases from pytest's
JUnit XML (each check's setup + call + teardown):

* ``start-up``: the wall time before the first check and after the last (Python, torch, Hypothesis and
  the graders' collection; isolated, the sandboxed children start meanwhile);
* ``structure + forward``, ``pooling``, ``conv math``, ``questions``, ``device``: the grader files;
  pooling and conv math are Hypothesis properties, thousands of calls into the submission;
* ``training`` (``test_learns``: train and predict), ``model.pt`` (``test_trained_model``), ``speed``.

Medians per phase and backend go to ``extra_info`` and a printed table (measured, not asserted).
Every backend must give full marks, so a broken run is never timed; a tier this machine cannot run is
left out, saying why.

Run: ``./run bench -k breakdown -s``. Needs a sandbox; skipped without one.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from benchmarks.conftest import ROOT
from cnngrade.submission.isolated import sandbox
from tests.sandboxes import sandbox_or_skip

#: the sandbox tiers, in the order cnngrade prefers them (cnngrade/submission/isolated/sandbox.py)
TIERS = ("fork", "bwrap", "unshare", "landlock")
#: backend -> (the options of ``cnngrade grade``, the sandbox tier it is made to use)
BACKENDS = {"in-process": (("--in-process",), None), **{tier: ((), tier) for tier in TIERS}}
#: grader file (or single check) -> phase
PHASES = {
    "test_learns": "training",
    "test_trained_model": "model.pt",
    "test_inference_speed": "speed",
    "test_1_structure": "structure + forward",
    "test_2_forward": "structure + forward",
    "test_3_pooling": "pooling",
    "test_4_conv_math": "conv math",
    "test_5_questions": "questions",
    "test_6_device": "device",
}
ROUNDS = 3


def phase_of(testcase: ET.Element) -> str:
    name = testcase.get("name", "").split("[", 1)[0]
    module = testcase.get("classname", "").rsplit(".", 1)[-1]
    return PHASES.get(name) or PHASES.get(module) or "other checks"


def grade(backend: str, scratch: Path) -> dict[str, float]:
    """One grading of the reference; its wall time split into phases (seconds)."""
    junit, results = scratch / f"{backend}.xml", scratch / f"{backend}.json"
    options, tier = BACKENDS[backend]
    command = [sys.executable, "-m", "cnngrade", "grade", str(ROOT / "reference"), f"--results-json={results}",
               *options, "--", f"--junitxml={junit}"]
    env = {k: v for k, v in os.environ.items() if k != "CNNGRADE_SANDBOX"}
    env |= {"CNNGRADE_SANDBOX": tier} if tier else {}
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    data = json.loads(results.read_text())
    assert proc.returncode == 0 and data["score"] == data["max_score"] > 0, proc.stdout[-3000:]
    phases: dict[str, float] = defaultdict(float)
    for testcase in ET.parse(junit).getroot().iter("testcase"):
        phases[phase_of(testcase)] += float(testcase.get("time", 0))
    phases["start-up"] = wall - sum(phases.values())
    phases["total (wall)"] = wall
    return dict(phases)


@pytest.mark.benchmark(group="grading breakdown")
def usable(backend: str) -> str | None:
    """None if ``backend`` runs here, else why not (a tier that fails its trial run)."""
    tier = BACKENDS[backend][1]
    if tier is None:
        return None
    candidate = dict(sandbox._candidates())[tier]
    return candidate if isinstance(candidate, str) else sandbox.probe(candidate)


def test_grading_breakdown(benchmark, tmp_path):
    sandbox_or_skip()
    os.chmod(tmp_path, 0o755)  # the landlock tier's child reads what it is given through the real path
    backends = [b for b in BACKENDS if (why := usable(b)) is None or print(f"{b}: left out ({why})")]
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in backends}

    def one_round() -> None:
        shift = len(rounds[backends[0]]) % len(backends)
        for backend in backends[shift:] + backends[:shift]:
            rounds[backend].append(grade(backend, tmp_path))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    names = {p for runs in rounds.values() for run in runs for p in run}
    phases = sorted(names, key=lambda p: (p == "total (wall)", p))
    medians = {b: {p: statistics.median(run.get(p, 0.0) for run in runs) for p in phases} for b, runs in rounds.items()}
    benchmark.extra_info.update({f"{b} {p} s": v for b, values in medians.items() for p, v in values.items()})
    benchmark.extra_info["rounds"] = rounds
    lines = [f"\n{'phase (median of ' + str(ROUNDS) + ' rounds)':<32}" + "".join(f"{b:>12}" for b in backends)]
    lines += [f"{p:<32}" + "".join(f"{medians[b][p]:>11.2f}s" for b in backends) for p in phases]
    total = medians["in-process"]["total (wall)"]
    lines.append(f"{'against in-process':<32}" + "".join(f"{medians[b]['total (wall)'] / total:>11.2f}x"
                                                           for b in backends))
    print("\n".join(lines))
