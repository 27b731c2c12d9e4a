"""The speed check (cnngrade.grader.speed, graders/test_8_speed.py).

Its measurement without a grading process: every call of the student's forward gets a batch it has
never been given, warm-up calls look like timed ones, and the outputs of every call are there to be
checked, so caching earns nothing. Its verdict on a fake clock, so that no test depends on the load:
calls slowed by a busy machine are measured again, never failed; a slow Net fails whatever the load.
And gradings of Nets the grader cannot reproduce (tests/speed/), judged by their own outputs.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cnngrade.grader.inputs import default_inputs, image_batch
from cnngrade.grader.invocation import Grade, Runner, run_graders_on_each
from cnngrade.grader.speed import (
    RepeatedBatch,
    admit,
    batch_seed,
    compare_fps,
    fingerprint,
    fresh_batches,
    measure,
    output_problem,
    sign_test,
)
from tests.corpus import background
from tests.paths import ROOT, TESTS

SHAPE = default_inputs()  # the default lab's: (1, 28, 28), MNIST-normalised
N, SEED = 8, 4660


def reference(x: torch.Tensor) -> torch.Tensor:
    """A trusted stand-in for the reference Net: fast and deterministic."""
    return F.log_softmax(x.flatten(1)[:, :10] * 2, dim=1)


class MemoisingStudent:
    """The reference's outputs, slow (a sleep) on a batch it has not seen, instant from its cache on one it
    has; it records every batch it is given."""

    def __init__(self, slow: float = 0.01) -> None:
        self.slow = slow
        self.cache: dict[bytes, torch.Tensor] = {}
        self.given: list[bytes] = []
        self.hits = 0
        self.inputs: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = fingerprint(x)
        self.given.append(key)
        self.inputs.append(x)
        if key in self.cache:
            self.hits += 1
        else:
            time.sleep(self.slow)
            self.cache[key] = reference(x)
        return self.cache[key].clone()


def measurements(student, attempts: int = 3, **kwargs) -> list:
    """The speed check's measurements, as graders/test_8_speed.py takes them: each on batches of its own,
    one set of fingerprints for all of them, every output checked against the reference's."""
    seen: set[bytes] = set()

    def check(x: torch.Tensor, out: torch.Tensor, expected: torch.Tensor) -> None:
        assert output_problem(out, expected, 1e-3) is None

    return [compare_fps(student, reference, fresh_batches(N, SHAPE, SEED, attempt), check=check, seen=seen,
                        **{"repeats": 5, "warmup": 2, **kwargs})
            for attempt in range(attempts)]


def test_the_student_never_gets_a_batch_twice_and_memoising_earns_nothing():
    student = MemoisingStudent()
    results = measurements(student)
    assert len(student.given) == 3 * (2 + 5) == len(set(student.given))
    assert student.hits == 0
    # every timed call paid the slow path, in every measurement (whatever the machine's load)
    assert all(min(r.student_times) >= student.slow for r in results), [r.student_times for r in results]


def test_a_batch_given_again_is_refused():
    """Measuring again on the batches of the first measurement (what the grader did before) is a grader
    bug that stops the check, not a measurement of cache hits."""
    student = MemoisingStudent(slow=0)
    seen: set[bytes] = set()
    batches = list(zip(range(4), fresh_batches(N, SHAPE, SEED, 0), strict=False))
    compare_fps(student, reference, (x for _, x in batches), repeats=3, warmup=1, seen=seen)
    with pytest.raises(RepeatedBatch):
        compare_fps(student, reference, (x for _, x in batches), repeats=3, warmup=1, seen=seen)
    assert student.hits == 0
    with pytest.raises(RepeatedBatch):
        admit(seen, batches[0][1].clone())


def test_batches_are_reproducible_and_unlike_any_other_checks():
    def first(attempt: int, count: int = 3) -> list[torch.Tensor]:
        return [x for _, x in zip(range(count), fresh_batches(N, SHAPE, SEED, attempt), strict=False)]

    assert all(torch.equal(a, b) for a, b in zip(first(0), first(0), strict=True))  # grading again: the same
    keys = {fingerprint(x) for attempt in range(3) for x in first(attempt)}
    keys |= {fingerprint(x) for x in fresh_batches_of_seed(SEED + 1)}
    assert len(keys) == 3 * 3 + 3
    others = {fingerprint(image_batch(N, SHAPE, seed)) for seed in range(2000)}  # the other checks' seeds
    assert not keys & others
    assert len({batch_seed(SEED, a, i) for a in range(3) for i in range(100)}) == 300


def fresh_batches_of_seed(seed: int) -> list[torch.Tensor]:
    return [x for _, x in zip(range(3), fresh_batches(N, SHAPE, seed, 0), strict=False)]


def test_warm_up_and_timed_calls_look_alike_and_are_all_checked():
    """The same batch size, dtype, layout and value range as every other check's images, and the same
    treatment: the student cannot tell the calls that count from those that do not."""
    student = MemoisingStudent(slow=0)
    checked: list[torch.Tensor] = []
    compare_fps(student, reference, fresh_batches(N, SHAPE, SEED, 0), repeats=4, warmup=3,
                check=lambda x, out, expected: checked.append(x))
    ordinary = image_batch(N, SHAPE, 0)
    low, high = float(image_batch(4096, SHAPE, 1).min()), float(image_batch(4096, SHAPE, 1).max())
    assert len(student.inputs) == len(checked) == 7
    for x, seen in zip(student.inputs, checked, strict=True):
        assert torch.equal(x, seen)
        assert (x.shape, x.dtype, x.stride(), x.requires_grad, x.device) == \
            (ordinary.shape, ordinary.dtype, ordinary.stride(), ordinary.requires_grad, ordinary.device)
        assert x.is_contiguous() and low - 0.01 <= float(x.min()) and float(x.max()) <= high + 0.01


def test_a_student_fast_only_by_garbage_fails_the_check():
    """Correct for its first calls (the warm-up), then fast constant outputs: the check sees those."""
    calls = []

    def warmup_only(x: torch.Tensor) -> torch.Tensor:
        calls.append(x)
        return reference(x) if len(calls) <= 2 else torch.full((x.shape[0], 10), -2.302585)

    problems = []

    def check(x: torch.Tensor, out: torch.Tensor, expected: torch.Tensor) -> None:
        problems.append(output_problem(out, expected, 1e-3))

    compare_fps(warmup_only, reference, fresh_batches(N, SHAPE, SEED, 0), repeats=3, warmup=2, check=check)
    assert problems[:2] == [None, None] and all(p is not None and p > 0.1 for p in problems[2:])


def test_output_problem_reads_log_probabilities():
    x = image_batch(N, SHAPE, 3)
    expected = reference(x)
    assert output_problem(expected + 1e-5, expected, 1e-3) is None
    assert output_problem(expected.exp(), expected, 1e-3) is None  # probabilities: their log
    assert output_problem(expected + 5, expected, 1e-3) is None  # logits: log_softmax of them
    assert output_problem(torch.zeros_like(expected), expected, 1e-3) > 0.1  # a constant
    assert output_problem(reference(image_batch(N, SHAPE, 4)), expected, 1e-3) > 0.1  # another batch's
    assert output_problem(expected[:, :5], expected, 1e-3) == float("inf")
    assert output_problem(expected.clone().fill_(float("nan")), expected, 1e-3) == float("inf")


def test_too_few_batches_is_an_error():
    with pytest.raises(ValueError, match="needs 5 batches"):
        compare_fps(reference, reference, [image_batch(N, SHAPE, 1)], repeats=3, warmup=2)


def test_output_problem_compares_binary_and_raw_outputs_as_they_are():
    x = image_batch(N, SHAPE, 5)
    probability = torch.sigmoid(x.flatten(1)[:, :1])
    assert output_problem(probability.reshape(N), probability, 1e-3) is None  # (N,) for (N, 1)
    assert output_problem(1 - probability, probability, 1e-3) > 0.01  # not constant, as log_softmax of it is
    logits = reference(x) * 100
    assert output_problem(logits * (1 + 1e-5), logits, 1e-3, raw=True) is None  # relative tolerance
    assert output_problem(logits + 5, logits, 1e-3, raw=True) == pytest.approx(5)  # the same log-probabilities
    assert output_problem(logits[:, :5], logits, 1e-3, raw=True) == float("inf")


# --------------------------------------------------------------------------- the verdict, on a fake clock


@pytest.mark.parametrize(("reached", "verdict"), [(20, True), (16, True), (15, None), (5, None), (4, False),
                                                  (0, False)])
def test_the_sign_test_decides_20_rounds_at_99_percent(reached, verdict):
    """P(Binomial(20, 1/2) >= 16) = 0.6%, P(>= 15) = 2.1%: 16 rounds of 20 reaching the threshold pass."""
    assert sign_test([0.6] * reached + [0.4] * (20 - reached), 0.5) is verdict


def test_a_single_round_or_a_few_decide_nothing():
    assert sign_test([2.0] * 6, 0.5) is None  # 1/64 > 1%
    assert sign_test([2.0] * 7, 0.5) is True and sign_test([0.1] * 7, 0.5) is False


class Machine:
    """A fake clock, and Nets whose calls take scripted seconds on it: ``seconds`` per call of each Net,
    and a stall of ``stall`` seconds added to the calls ``stalled(call)`` says (a busy machine)."""

    def __init__(self, stalled=lambda call: False, stall: float = 0.1) -> None:
        self.now, self.calls, self.stalled, self.stall = 0.0, 0, stalled, stall

    def clock(self) -> float:
        return self.now

    def net(self, seconds: float):
        def forward(x: torch.Tensor) -> torch.Tensor:
            self.now += seconds + (self.stall if self.stalled(self.calls) else 0.0)
            self.calls += 1
            return reference(x)
        return forward


def verdict_on(machine: Machine, student_seconds: float, reference_seconds: float = 0.005, **kwargs):
    """The speed check's verdict (fps_ratio 0.5, 3 measurements of 3 + 20 rounds) on ``machine``'s clock."""
    return measure(machine.net(student_seconds), machine.net(reference_seconds),
                   lambda attempt: fresh_batches(N, SHAPE, SEED, attempt), 0.5, attempts=3, repeats=20, warmup=3,
                   clock=machine.clock, **kwargs)


def test_a_busy_machine_slowing_calls_at_random_never_fails_a_fast_enough_net():
    """The issue's load: calls 20 times slower now and then (a 100 ms stall on a 5 ms call), a fifth of
    them, hitting the student's or the reference's side; a Net as fast as the reference passes, 50 times
    in 50, its median ratio within 10% of 1."""
    verdicts = []
    for trial in range(50):
        draws = random.Random(trial)
        stalled = {call for call in range(3 * 2 * 23) if draws.random() < 0.2}
        verdicts.append(verdict_on(Machine(stalled.__contains__), 0.005))
    assert all(v.passed for v in verdicts)
    assert all(0.9 <= v.pooled.ratio <= 1.1 for v in verdicts)


def test_a_streak_of_slowed_calls_is_measured_again_not_failed():
    """The first measurement's student calls slowed for 10 rounds in a row (as seen at load 3: 100 ms
    calls in streaks): 10 of its 20 rounds short, the rounds disagree, and a second measurement decides."""
    # round i's calls are 2i and 2i + 1, the student's first in even rounds; rounds 0-2 are the warm-up
    streak = {2 * i if i % 2 == 0 else 2 * i + 1 for i in range(6, 16)}
    verdict = verdict_on(Machine(streak.__contains__), 0.005)
    assert sum(r < 0.5 for r in verdict.measurements[0].ratios) == 10
    assert verdict.passed and verdict.confident and len(verdict.measurements) == 2


def test_a_slow_net_fails_at_once_whatever_the_load():
    """4 times slower than the reference (ratio 0.25): failed by the first measurement, on an idle
    machine and on a busy one."""
    for stalled in (lambda call: False, lambda call: call % 7 == 0):
        verdict = verdict_on(Machine(stalled), 0.02)
        assert not verdict.passed and verdict.confident and len(verdict.measurements) == 1
        assert verdict.short >= 16


def test_rounds_that_disagree_to_the_end_are_decided_by_their_median():
    """A Net at the threshold: half its rounds reach it, half fall short; after 3 measurements the median
    of all 60 rounds decides."""
    seconds = iter([0.0095, 0.0105] * 200)
    machine = Machine()
    student = machine.net(0.0)

    def at_the_threshold(x: torch.Tensor) -> torch.Tensor:
        machine.now += next(seconds)
        return student(x)

    verdict = measure(at_the_threshold, machine.net(0.005), lambda a: fresh_batches(N, SHAPE, SEED, a), 0.5,
                      attempts=3, repeats=20, warmup=3, clock=machine.clock)
    assert not verdict.confident and len(verdict.measurements) == 3 and verdict.rounds == 60
    assert verdict.passed is (verdict.pooled.ratio >= 0.5)


# --------------------------------------------------------------------------- gradings

#: tests/speed/: Lab 4 Nets with 60 hidden units (the grader cannot load the lab's weights into them)
SPEED_SUBMISSIONS = sorted(p for p in (TESTS / "speed").iterdir() if p.is_dir())
#: Nets whose forward fails on the CPU: for batches of any size but 64, and for every batch
FAILING_FORWARD = (TESTS / "buggy" / "hardcoded_batch", TESTS / "buggy" / "relu_undefined")


@background("speed_own_outputs", cost=30)
def grade_speed_and_device(scratch: Path, warm: Runner) -> dict[str, Grade]:
    """tests/speed/'s Nets and those whose forward fails on the CPU, sandboxed, graded by the speed and
    device checks."""
    return run_graders_on_each([*SPEED_SUBMISSIONS, *FAILING_FORWARD], ROOT / "graders", "--isolated", cwd=scratch,
                               files=("test_6_device.py", "test_8_speed.py"), runner=warm)


@pytest.mark.grades("speed_own_outputs")
def test_a_net_the_grader_cannot_reproduce_is_timed_on_its_own_outputs(corpus):
    """One mistake costs its points once: a Net whose layers are not the lab's is still timed, each timed
    output checked against a fresh Net()'s own for the same batch; garbage when timed and a Python loop
    over images still fail."""
    grades = corpus.result("speed_own_outputs")
    assert "test_inference_speed" in grades["hidden_60"].passed(), grades["hidden_60"].failed()
    garbage = grades["hidden_60_garbage"].failed()["test_inference_speed"]
    assert "differ from what it computes otherwise" in garbage and "a fresh Net() with the same weights" in garbage
    loop = grades["hidden_60_loop"].failed()["test_inference_speed"]
    assert "At least 0.5 is needed" in loop and "look for Python loops" in loop


@pytest.mark.grades("speed_own_outputs")
def test_a_batch_size_written_into_forward_costs_no_device_points(corpus):
    """``x.view(64, 320)``: the device checks run it on a batch of 64 and pass it (the output checks charge
    the mistake); a Net that fails on the CPU for every batch is told so, not to register its tensors."""
    grades = corpus.result("speed_own_outputs")
    assert {"test_runs_without_cuda", "test_to_device_moves_everything"} <= grades["hardcoded_batch"].passed()
    message = grades["relu_undefined"].failed()["test_to_device_moves_everything"]
    assert "NameError" in message and "fails on the CPU too" in message and "nn.Parameter" not in message
