"""Inference FPS of the reference Net, and the stability of the FPS check against itself."""

from __future__ import annotations

import statistics
from functools import partial

import pytest
import torch

from benchmarks.conftest import ROOT
from cnngrade.grader.inputs import default_inputs, image_batch
from cnngrade.grader.speed import fresh_batches, measure
from cnngrade.submission.inprocess import InProcessSubmission


@pytest.mark.parametrize("batch", [1, 64, 1000])
@pytest.mark.benchmark(group="reference inference")
def test_reference_fps(benchmark, reference_net, batch):
    x = image_batch(batch)
    with torch.no_grad():
        benchmark(reference_net, x)
    benchmark.extra_info["fps"] = batch / benchmark.stats.stats.median


def test_fps_check_of_the_reference_against_itself(benchmark):
    """20 verdicts of the reference against itself, in-process, timed as the check times them (one thread
    each, rounds on fresh batches): all must pass fps_ratio 0.5; spread of the ratio (each verdict's median
    of its rounds)."""
    student, reference = InProcessSubmission(ROOT / "reference"), InProcessSubmission(ROOT / "reference")
    student.build_net()
    reference.build_net()
    verdicts = []

    def grade_twenty_times():
        verdicts.clear()
        for i in range(20):
            verdicts.append(measure(partial(student.forward, threads=1), partial(reference.forward, threads=1),
                                    lambda attempt, i=i: fresh_batches(64, default_inputs(), i, attempt), 0.5,
                                    repeats=20, warmup=3))

    benchmark.pedantic(grade_twenty_times, rounds=1, iterations=1)
    ratios = [v.pooled.ratio for v in verdicts]
    median = statistics.median(ratios)
    benchmark.extra_info.update(ratios=ratios, median=median, min=min(ratios), max=max(ratios),
                                spread_percent=100 * max(abs(r - median) for r in ratios) / median)
    print(f"\nratio median {median:.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}")
    assert all(v.passed for v in verdicts)
