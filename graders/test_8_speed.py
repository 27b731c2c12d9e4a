"""Speed: inference frames per second against the reference Net, measured in the same run.

FPS = batch size / median seconds per forward call (:mod:`cnngrade.grader.speed`). Both Nets get the
lab's weights drawn from ``[speed] seed``; every call is a batch the student has never been given, and
every output of the student's is compared with the grader's own computation of what Net computes (the
lab's layers, or those with the mistakes the architecture check found), so only real work is timed.
"""

from __future__ import annotations

import pytest
import torch

from cnngrade.grader.architecture import Architecture
from cnngrade.grader.equivalence import eval_verdict, match_parameters
from cnngrade.grader.feedback import data, expect, fail, measured
from cnngrade.grader.inputs import Inputs
from cnngrade.grader.speed import admit, compare_fps, fresh_batches, output_problem
from cnngrade.submission.handle import Submission


def lab_state(handle: Submission, arch: Architecture, weights: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The lab's ``weights`` by the names of the handle's parameters (matched by order and shape)."""
    matching = match_parameters(arch.parameter_shapes(), handle.build_net().parameters)
    return dict(zip(matching.names, weights, strict=True))


@pytest.mark.points(5)
@pytest.mark.filterwarnings("ignore::pytest_benchmark.logger.PytestBenchmarkWarning")
def test_inference_speed(submission, reference_submission, lab, images, speed_benchmark, request):
    """Inference is at least fps_ratio times as fast as the reference Net"""
    settings = lab.setting("speed")
    inputs = Inputs.from_lab(lab)
    n, classes, seed = settings["batch_size"], lab.setting("net.classes"), settings.get("seed", 0)
    tolerance = settings.get("output_tolerance", 1e-3)
    arch = Architecture.from_config(lab)
    matching = match_parameters(arch.parameter_shapes(), submission.build_net().parameters)
    model = None if matching.missing else eval_verdict(submission, arch, matching, images(n)).model
    if model is None:
        fail("Speed can be checked once the grader can reproduce what Net computes in eval mode (see the "
             "architecture check): the outputs of the timed calls are compared with the grader's own.")
    weights = arch.draw_weights(seed)
    submission.build_net(state=dict(zip(matching.names, weights, strict=True)))
    reference_submission.build_net(state=lab_state(reference_submission, arch, weights))
    seen: set[bytes] = set()  # every batch the student was given
    previous: list[torch.Tensor] = []

    def check(x: torch.Tensor, out: torch.Tensor, _reference: torch.Tensor) -> None:
        if tuple(out.shape) != (n, classes) or not torch.isfinite(out).all():
            fail(f"While timing, Net returned shape {tuple(out.shape)} or non-finite values for {n} images.")
        expected = model.run(weights, x)[-1]
        difference = output_problem(out, expected, tolerance)
        if difference is not None:
            if previous and torch.equal(out, previous[-1]):
                fail("While timing, Net returned the same output for two different batches.")
            if (out == out[:1]).all():
                fail(f"While timing, Net returned the same output for all {n} images of a batch: does forward "
                     "use its input?")
            fail(f"While timing, Net's outputs differ from what it computes otherwise on the same {n} images "
                 f"(largest difference {difference:.3g} in log-probabilities, at most {tolerance:g} allowed; the "
                 "grader computes them with the same weights). Only Net computing each batch it is given is "
                 "timed: compute every output (no cached or made-up ones).")
        previous[:] = [out]

    # A busy machine can slow one side of a measurement: a failing ratio is measured again, up to
    # `attempts` measurements (each on batches of its own), stopping at the first that passes. A ratio
    # more than `remeasure_within` times below fps_ratio is not noise (the calls are interleaved).
    attempts = settings.get("attempts", 3)
    for attempt in range(attempts):
        result = compare_fps(
            submission.forward, reference_submission.forward, fresh_batches(n, inputs, seed, attempt),
            repeats=settings["repeats"], warmup=settings["warmup"], check=check, seen=seen,
        )
        if not settings["fps_ratio"] / settings.get("remeasure_within", 4) <= result.ratio < settings["fps_ratio"]:
            break
    if speed_benchmark is not None:  # asked for (--benchmark-json FILE, ...): the figures go to pytest-benchmark too
        speed_benchmark.extra_info.update(student_fps=result.student_fps, reference_fps=result.reference_fps,
                                          ratio=result.ratio)
        batches = fresh_batches(n, inputs, seed, attempts)  # batches of their own, never given before

        def next_batch() -> tuple[tuple[torch.Tensor], dict]:
            x = next(batches)
            admit(seen, x)
            return (x,), {}

        speed_benchmark.pedantic(submission.forward, setup=next_batch, rounds=5, warmup_rounds=1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    floor = settings.get("min_fps", {}).get(device, 0)
    figures = (f"Net runs at {result.student_fps:,.0f} images/s, the reference at {result.reference_fps:,.0f} "
               f"images/s (ratio {result.ratio:.2f}; batch {n}, median of {settings['repeats']}).")
    data(request, fps=result.student_fps, reference_fps=result.reference_fps, ratio=result.ratio)
    measured(request, f"{figures} At least {settings['fps_ratio']:g} is needed.")
    expect(result.ratio >= settings["fps_ratio"],
           f"{figures} At least {settings['fps_ratio']:g} is needed: look for Python loops over images "
           "or work repeated on every call.")
    expect(result.student_fps >= floor, f"{figures} At least {floor:,} images/s is needed on {device}.")
