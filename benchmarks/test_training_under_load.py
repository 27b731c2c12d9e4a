"""The "learns" check under load: a correct Net never fails it because the machine is busy.

Grades ``reference/`` with ``test_learns`` only, ten times in a row, while two busy processes keep
both cores of this 2-core machine occupied, in-process (the training runs in the grading process).
Every grading must pass (asserted: this is the property the harness promises, whatever the timings);
the training's wall time of each grading (from ``--durations``) goes to ``extra_info`` with its spread.
Training runs on one torch thread and is limited in CPU time, not wall time (``[train]`` of lab.toml).

Run: ``./run bench -k under_load -s`` (several minutes).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from benchmarks.conftest import ROOT

GRADINGS = 10
BUSY = "while True: pass"


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` processes that spin on a core each, while the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def train_once() -> float:
    """One in-process grading of the reference's ``test_learns``; the check's wall time in seconds."""
    proc = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "graders" / "test_7_accuracy.py"),
                           f"--rootdir={ROOT}", f"--submission={ROOT / 'reference'}", "-k", "test_learns",
                           "-p", "no:cacheprovider", "--assert=plain", "-q", "--durations=1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"the reference failed test_learns under load:\n{proc.stdout[-3000:]}"
    match = re.search(r"([0-9.]+)s call\s+\S*test_learns", proc.stdout)
    assert match, proc.stdout[-2000:]
    return float(match.group(1))


@pytest.mark.benchmark(group="training under load")
def test_reference_learns_under_load(benchmark):
    seconds: list[float] = []
    with busy_cores(2):
        benchmark.pedantic(lambda: seconds.append(train_once()), rounds=GRADINGS, iterations=1)
    benchmark.extra_info.update(training_seconds=seconds, median=statistics.median(seconds), low=min(seconds),
                                high=max(seconds))
    print(f"\n{len(seconds)} gradings of test_learns beside two busy processes, all passed; training took "
          f"{min(seconds):.1f} to {max(seconds):.1f} s (median {statistics.median(seconds):.1f} s)")
