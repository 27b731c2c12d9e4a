"""Inference FPS of the reference Net, and the stability of the FPS check against itself."""

from __future__ import annotations

import statistics

import pytest
import torch

from benchmarks.conftest import ROOT
from cnngrade.grader.inputs import image_batch
from cnngrade.grader.speed import compare_fps
from cnngrade.submission.inprocess import InProcessSubmission


@pytest.mark.parametrize("batch", [1, 64, 1000])
@pytest.mark.benchmark(group="reference inference")
def test_reference_fps(benchmark, reference_net, batch):
    x = image_batch(batch)
    with torch.no_grad():
        benchmark(reference_net, x)
    benchmark.extra_info["fps"] = batch / benchmark.stats.stats.median


def test_fps_check_of_the_reference_against_itself(benchmark):
    """20 gradings of the reference against itself: all must pass fps_ratio 0.5; spread of the ratio."""
    student, reference = InProcessSubmission(ROOT / "reference"), InProcessSubmission(ROOT / "reference")
    student.build_net()
    reference.build_net()
    ratios = []

    def grade_twenty_times():
        ratios.clear()
        for i in range(20):
            result = compare_fps(student.forward, reference.forward, lambda k, i=i: image_batch(64, seed=100 * i + k),
                                 repeats=20, warmup=3)
            ratios.append(result.ratio)

    benchmark.pedantic(grade_twenty_times, rounds=1, iterations=1)
    median = statistics.median(ratios)
    benchmark.extra_info.update(ratios=ratios, median=median, min=min(ratios), max=max(ratios),
                                spread_percent=100 * max(abs(r - median) for r in ratios) / median)
    print(f"\nratio median {median:.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}")
    assert all(r >= 0.5 for r in ratios)
