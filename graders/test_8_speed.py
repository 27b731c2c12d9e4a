"""Speed: inference frames per second against the reference Net, measured in the same run.

Both Nets are timed round by round on batches the student has never been given, one torch thread
each, and the rounds decide with a sign test at 99% confidence, measuring again while they disagree
(:mod:`cnngrade.grader.speed`): a busy machine slows both Nets of a round alike, and a round it
spoils is one of many. Every output Net returns while timed is compared with what Net computes for
the same batch, so only real work is timed: where the grader can reproduce Net (the lab's layers, or
the lab's with the mistakes the architecture check found), with its own computation under the lab's
weights drawn from ``[speed] seed``; where it cannot (Net's layers are not the lab's shapes), with
Net's own output for the batch, untimed, from a fresh ``Net()`` with the same weights. A mistake in
the architecture costs the architecture's points, not the speed's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
import torch

from cnngrade.grader.architecture import Architecture
from cnngrade.grader.equivalence import eval_verdict, match_parameters
from cnngrade.grader.feedback import data, expect, fail, measured
from cnngrade.grader.inputs import Inputs, input_noun, inputs_text
from cnngrade.grader.speed import CONFIDENCE, admit, fresh_batches, measure, output_problem
from cnngrade.submission.handle import Submission

#: torch's intra-op threads of each Net while timed
THREADS = 1


def lab_state(handle: Submission, arch: Architecture, weights: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The lab's ``weights`` by the names of the handle's parameters (matched by order and shape)."""
    matching = match_parameters(arch.parameter_shapes(), handle.build_net().parameters)
    return dict(zip(matching.names, weights, strict=True))


def what_net_computes(submission: Submission, arch: Architecture, x: torch.Tensor, seed: int
                      ) -> tuple[Callable[[torch.Tensor], torch.Tensor], bool]:
    """Build the net to time and say what it computes for a batch: the grader's own computation (True)
    where it reproduces Net's eval output on ``x``, with the lab's weights drawn from ``seed``; else
    (False) the output of a fresh ``Net()`` built under ``seed``, untimed."""
    matching = match_parameters(arch.parameter_shapes(), submission.build_net().parameters)
    model = None if matching.missing else eval_verdict(submission, arch, matching, x).model
    if model is not None:
        weights = arch.draw_weights(seed)
        submission.build_net(state=dict(zip(matching.names, weights, strict=True)))
        return (lambda batch: model.run(weights, batch)[-1]), True
    submission.build_net(seed=seed)
    return (lambda batch: submission.run_with_state({}, batch, build_seed=seed, record=False).output), False


@pytest.mark.points(5)
@pytest.mark.filterwarnings("ignore::pytest_benchmark.logger.PytestBenchmarkWarning")
def test_inference_speed(submission, reference_submission, lab, images, speed_benchmark, request):
    """Inference is at least fps_ratio times as fast as the reference Net"""
    settings = lab.setting("speed")
    inputs = Inputs.from_lab(lab)
    n, seed, needed = settings["batch_size"], settings.get("seed", 0), settings["fps_ratio"]
    tolerance = settings.get("output_tolerance", 1e-3)
    arch = Architecture.from_config(lab)
    expected, reproduced = what_net_computes(submission, arch, images(n), seed)
    reference_submission.build_net(state=lab_state(reference_submission, arch, arch.draw_weights(seed)))
    batch = inputs_text(lab, n)
    previous: list[torch.Tensor] = []

    def check(x: torch.Tensor, out: torch.Tensor, _reference: torch.Tensor) -> None:
        own = expected(x)
        difference = output_problem(out, own, tolerance, raw=not reproduced)
        if difference is None:
            previous[:] = [out]
            return
        if difference == float("inf"):
            fail(f"While timing, Net returned shape {tuple(out.shape)} or non-finite values for {batch}.")
        if previous and torch.equal(out, previous[-1]):
            fail("While timing, Net returned the same output for two different batches.")
        if (out == out[:1]).all() and not (own == own[:1]).all():
            fail(f"While timing, Net returned the same output for all {batch} of a batch: does forward use "
                 "its input?")
        computed = ("the grader computes them with the same weights" if reproduced else
                    "as a fresh Net() with the same weights returns them, untimed")
        fail(f"While timing, Net's outputs differ from what it computes otherwise on the same {batch} (largest "
             f"difference {difference:.3g}{' in log-probabilities' if reproduced else ''}, at most {tolerance:g} "
             f"allowed; {computed}). Only Net computing each batch it is given is timed: compute every output "
             "(no cached or made-up ones).")

    seen: set[bytes] = set()  # every batch the student was given
    student = functools.partial(submission.forward, threads=THREADS)
    verdict = measure(student, functools.partial(reference_submission.forward, threads=THREADS),
                      lambda attempt: fresh_batches(n, inputs, seed, attempt), needed,
                      attempts=settings.get("attempts", 3), repeats=settings["repeats"], warmup=settings["warmup"],
                      check=check, seen=seen)
    result = verdict.pooled
    if speed_benchmark is not None:  # asked for (--benchmark-json FILE, ...): the figures go to pytest-benchmark too
        speed_benchmark.extra_info.update(student_fps=result.student_fps, reference_fps=result.reference_fps,
                                          ratio=result.ratio, rounds=verdict.rounds)
        batches = fresh_batches(n, inputs, seed, len(verdict.measurements))  # batches of their own, never given

        def next_batch() -> tuple[tuple[torch.Tensor], dict]:
            x = next(batches)
            admit(seen, x)
            return (x,), {}

        speed_benchmark.pedantic(student, setup=next_batch, rounds=5, warmup_rounds=1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    floor = settings.get("min_fps", {}).get(device, 0)
    noun = input_noun(lab)
    figures = (f"Net runs at {result.student_fps:,.0f} {noun}s/s, the reference at {result.reference_fps:,.0f} "
               f"{noun}s/s (ratio {result.ratio:.2f}: the median of {verdict.rounds} rounds on batches of {n}, one "
               "thread each")
    data(request, fps=result.student_fps, reference_fps=result.reference_fps, ratio=result.ratio,
         rounds=verdict.rounds)
    measured(request, f"{figures}). At least {needed:g} is needed.")
    how = (f"{verdict.short} fell short of {needed:g}, which a Net fast enough would do with a chance under "
           f"{1 - CONFIDENCE:.0%}" if verdict.confident else
           f"they disagreed over {len(verdict.measurements)} measurements, so their median decided")
    expect(verdict.passed, f"{figures}; {how}). At least {needed:g} is needed: look for Python loops over {noun}s or "
                           "work repeated on every call.")
    expect(result.student_fps >= floor, f"{figures}). At least {floor:,} {noun}s/s is needed on {device}.")
