"""The speed check's measurement (cnngrade.grader.speed) without a grading process: every call of the
student's forward gets a batch it has never been given, warm-up calls look like timed ones, and
the outputs of every call are there to be checked against the reference's, so caching earns nothing."""

from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F

from cnngrade.grader.inputs import default_inputs, image_batch
from cnngrade.grader.speed import (
    RepeatedBatch,
    admit,
    batch_seed,
    compare_fps,
    fingerprint,
    fresh_batches,
    output_problem,
)

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


def measure(student, attempts: int = 3, **kwargs) -> list:
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
    results = measure(student)
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
