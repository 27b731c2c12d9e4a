"""``cnngrade batch``: students per minute with 1 and 2 workers, and the sandbox's cost per student.

A class of 16 students (the reference, the blank templates and buggy Nets, in folders), graded on the
Net's structure and forward checks (``graders/test_1_structure.py``, ``test_2_forward.py``), three
times side by side in one run: isolated with 1 worker, isolated with 2 (the CPUs shared: a torch thread
each on 2 cores), isolated with 2 workers of 2 threads each (every run with every CPU), in-process with 2. Each is a
fresh ``cnngrade batch`` command (its warm process's start included), ``--force`` into a fresh folder.
Every student must be graded (no timeout, no error): a broken run is not timed.

Run: ``./run bench -k batch_throughput -s``.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.conftest import ROOT

BUGGY = ("softmax", "raw_logits", "wrong_channels", "missing_relu", "frozen_layer", "log_softmax_dim0",
         "dropout_in_eval", "relu_on_logits", "no_fc_dropout", "average_pooling")
CHECKS = ("-k", "test_1_structure or test_2_forward")
SETTINGS = {"isolated, 1 worker": ("--workers", "1"), "isolated, 2 workers": ("--workers", "2"),
            "isolated, 2 workers of 2 threads": ("--workers", "2", "--threads", "2"),
            "in-process, 2 workers": ("--workers", "2", "--in-process")}
measured: dict[str, float] = {}


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class")
    for i in range(4):
        shutil.copytree(ROOT / "reference", root / f"reference{i}")
    for i in range(2):
        shutil.copytree(ROOT / "student_templates", root / f"blank{i}")
    for bug in BUGGY:
        shutil.copytree(ROOT / "tests" / "buggy" / bug, root / bug)
    return root


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.benchmark(group="batch throughput")
def test_batch_throughput(benchmark, klass, setting, tmp_path):
    students = len(list(klass.iterdir()))

    def grade() -> None:
        out = tmp_path / "grades"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "cnngrade", "batch", str(klass), "--out", str(out), "--force",
                              *SETTINGS[setting], "--", *CHECKS], capture_output=True, text=True, timeout=1800)
        seconds = time.perf_counter() - start
        assert run.returncode == 0, run.stderr[-2000:]
        rows = list(csv.DictReader((out / "gradebook.csv").open()))
        assert len(rows) == students and {row["status"] for row in rows} == {"graded"}, rows
        measured[setting] = seconds

    benchmark.pedantic(grade, rounds=1, iterations=1)
    seconds = measured[setting]
    benchmark.extra_info.update({"seconds": seconds, "students per minute": 60 * students / seconds})
    print(f"\n{setting}: {students} students in {seconds:.1f} s, {60 * students / seconds:.1f} students per minute, "
          f"{seconds / students:.2f} s per student")
    if len(measured) == len(SETTINGS):
        one, two = measured["isolated, 1 worker"], measured["isolated, 2 workers"]
        crowded, inprocess = measured["isolated, 2 workers of 2 threads"], measured["in-process, 2 workers"]
        print(f"2 workers / 1 worker: {one / two:.2f}x the throughput; 2 workers sharing the CPUs / each with "
              f"every CPU: {crowded / two:.2f}x; isolated / in-process (2 workers): {two / inprocess:.2f}x the time, "
              f"{(two - inprocess) / students:.2f} s more per student")
