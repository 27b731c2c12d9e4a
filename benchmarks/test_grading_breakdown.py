"""Where a full grading of the reference spends its time, in-process and isolated, side by side.

The issue's targets: the reference's full grading in at most 15 s in-process and 20 s isolated on a
quiet 2-core machine. Each round runs ``cnngrade grade reference/`` as a fresh process (as a user does)
with ``--in-process`` and sandboxed, one after the other (alternating which goes first), and splits its
wall time into phases from pytest's JUnit XML (each check's setup + call + teardown):

* ``start-up``: the wall time before the first check and after the last (Python, torch, Hypothesis and
  the graders' collection; isolated, the sandboxed children start meanwhile);
* ``structure + forward``, ``pooling``, ``conv math``, ``questions``, ``device``: the grader files;
  pooling and conv math are Hypothesis properties, thousands of calls into the submission;
* ``training`` (``test_learns``: train and predict), ``model.pt`` (``test_trained_model``), ``speed``.

Medians per phase and backend go to ``extra_info`` and a printed table (measured, not asserted).
Both backends must give full marks, so a broken run is never timed.

Run: ``./run bench -k breakdown -s``. Needs a sandbox (bubblewrap or unshare); skipped without one.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from benchmarks.conftest import ROOT
from tests.sandboxes import sandbox_or_skip

BACKENDS = {"in-process": ("--in-process",), "isolated": ()}
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
    command = [sys.executable, "-m", "cnngrade", "grade", str(ROOT / "reference"), f"--results-json={results}",
               *BACKENDS[backend], "--", f"--junitxml={junit}"]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=scratch, capture_output=True, text=True, timeout=900)
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
def test_grading_breakdown(benchmark, tmp_path):
    sandbox_or_skip()
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in BACKENDS}

    def one_round() -> None:
        order = list(BACKENDS) if len(rounds["isolated"]) % 2 == 0 else list(reversed(BACKENDS))
        for backend in order:
            rounds[backend].append(grade(backend, tmp_path))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    names = {p for runs in rounds.values() for run in runs for p in run}
    phases = sorted(names, key=lambda p: (p == "total (wall)", p))
    medians = {b: {p: statistics.median(run.get(p, 0.0) for run in runs) for p in phases} for b, runs in rounds.items()}
    benchmark.extra_info.update({f"{b} {p} s": v for b, values in medians.items() for p, v in values.items()})
    benchmark.extra_info["rounds"] = rounds
    lines = [f"\n{'phase (median of ' + str(ROUNDS) + ' rounds)':<32}{'in-process':>12}{'isolated':>12}"]
    lines += [f"{p:<32}{medians['in-process'][p]:>11.2f}s{medians['isolated'][p]:>11.2f}s" for p in phases]
    print("\n".join(lines))
