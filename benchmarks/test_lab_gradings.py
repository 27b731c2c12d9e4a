"""Each lab's reference graded with every check, in-process: wall time and peak memory.

The labs are the default one (``graders/lab.toml``, ``reference/``) and those of ``labs/`` (the CIFAR-10
CNN on the tests' small generated CIFAR-10, tests/cifar_data.py); the report
CNN above all (16,154,950 parameters, 256x256 RGB inputs), which the test suite grades on its
cheaper checks only. Each grading is a fresh ``pytest graders/ --lab DIR`` process, started by a
small Python wrapper whose ``RUSAGE_CHILDREN`` peak resident size is that process's (Linux).
The reference must get full marks: a broken run is not timed.

Run: ``./run bench -k lab_gradings -s``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from benchmarks.conftest import ROOT
from cnngrade.grader.invocation import pytest_arguments
from tests.cifar_data import write_cifar10_like

LABS = {"lab4": None, "mlp-mnist": ROOT / "labs" / "mlp-mnist", "cifar10-cnn": ROOT / "labs" / "cifar10-cnn",
        "report-cnn": ROOT / "labs" / "report-cnn"}
#: runs the command in argv[1:], then prints its exit status and its peak resident size in KiB
WRAPPER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


@pytest.mark.parametrize("lab", list(LABS))
@pytest.mark.benchmark(group="lab gradings")
def test_lab_reference_grading(benchmark, lab, tmp_path):
    directory = LABS[lab]
    reference = (directory or ROOT) / "reference"
    results = tmp_path / "results.json"
    options = ["--lab", str(directory)] if directory else []
    if lab == "cifar10-cnn":  # on the tests' generated CIFAR-10 (no copy of the real one here)
        options += ["--data-root", str(write_cifar10_like(tmp_path / "data"))]
    command = [sys.executable, "-m", "pytest",
               *pytest_arguments(ROOT / "graders", [reference], results_json=results), *options]
    measured: list[tuple[float, int]] = []

    def grade() -> None:
        start = time.perf_counter()
        wrapper = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True,
                                 cwd=tmp_path, timeout=1800)
        seconds = time.perf_counter() - start
        code, peak_kib = map(int, wrapper.stdout.strip().splitlines()[-1].split())
        data = json.loads(results.read_text())
        assert code == 0, wrapper.stdout[-2000:]
        assert data["score"] == data["max_score"] > 0, f"{lab}: {data['score']}/{data['max_score']}"
        measured.append((seconds, peak_kib))

    benchmark.pedantic(grade, rounds=1, iterations=1)
    seconds, peak_kib = measured[0]
    benchmark.extra_info.update({"seconds": seconds, "peak MiB": peak_kib / 1024})
    print(f"\n{lab}: reference graded in {seconds:.1f} s, peak resident memory {peak_kib / 1024:.0f} MiB")
