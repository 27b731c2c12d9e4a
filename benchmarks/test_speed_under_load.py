"""The speed check under load: a Net as fast as the reference never fails it because the machine is busy.

20 gradings of correct submissions (the reference and tests/correct/'s Nets, written other ways) by
``cnngrade grade`` with the speed check alone, sandboxed as a class is graded, while two busy
processes keep both cores of this 2-core machine occupied. Every grading must pass (asserted: the
property the check promises, whatever the load); each grading's ratio (the median of its rounds),
rounds and measurements go to ``extra_info`` with their spread.

Run: ``./run bench -k speed_under_load -s`` (a few minutes).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

from benchmarks.conftest import ROOT
from benchmarks.test_training_under_load import busy_cores
from cnngrade.grader.invocation import run_fresh

GRADINGS = 20
#: correct submissions, graded in turn (several per ``cnngrade grade`` run, as a class is)
CORRECT = (ROOT / "reference", *sorted(p for p in (ROOT / "tests" / "correct").iterdir() if p.is_dir()))


def grade(submissions: list[Path], scratch: Path) -> list[dict]:
    """One ``cnngrade grade`` run of ``submissions`` with the speed check alone: each one's results.json
    entry of the check."""
    results = scratch / "{name}.json"
    proc = run_fresh([sys.executable, "-m", "cnngrade", "grade", *map(str, submissions), f"--results-json={results}",
                      "--", "-k", "test_inference_speed"], cwd=scratch, env=None, timeout=1200)
    entries = []
    for submission in submissions:
        path = scratch / f"{submission.name}.json"
        assert path.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
        tests = json.loads(path.read_text(encoding="utf-8"))["tests"]
        entries += [t for t in tests if t["name"].startswith("Inference is at least")]
    return entries


@pytest.mark.benchmark(group="speed under load")
def test_correct_nets_pass_speed_under_load(benchmark, tmp_path):
    entries: list[dict] = []
    runs = -(-GRADINGS // len(CORRECT))

    def grade_all() -> None:
        entries.clear()
        for run in range(runs):
            scratch = tmp_path / f"run-{run}"
            scratch.mkdir(exist_ok=True)
            entries.extend(grade(list(CORRECT), scratch))
        del entries[GRADINGS:]

    with busy_cores(2):
        benchmark.pedantic(grade_all, rounds=1, iterations=1)
    failures = [e["output"] for e in entries if e["score"] < e["max_score"]]
    ratios = [e["extra_data"]["ratio"] for e in entries if "ratio" in e.get("extra_data", {})]
    rounds = [e["extra_data"]["rounds"] for e in entries if "rounds" in e.get("extra_data", {})]
    benchmark.extra_info.update(gradings=len(entries), failures=len(failures), ratios=ratios, rounds=rounds,
                                min=min(ratios), median=statistics.median(ratios), max=max(ratios))
    print(f"\n{len(entries)} gradings of the speed check beside two busy processes: {len(failures)} failed; ratio "
          f"min {min(ratios):.2f}, median {statistics.median(ratios):.2f}, max {max(ratios):.2f}; rounds "
          f"{min(rounds)} to {max(rounds)}")
    assert len(entries) == len(ratios) == GRADINGS
    assert not failures, failures
