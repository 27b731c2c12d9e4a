"""Inference speed: the student's Net against the reference's, timed side by side by the caller's clock.

**Rounds.** A measurement is ``warmup + repeats`` rounds. Each round times one forward call of each
model on the same batch, back to back, alternating which goes first; the round's ratio is the
reference's seconds over the student's (the student's frames per second over the reference's, in that
round). Load slows the two calls of a round alike, or now and then one of them: a round's ratio keeps
what load cannot change, and one slowed call spoils one round, not the measurement. (The caller times
each side on one torch thread: OpenMP's threads wait for a descheduled partner by spinning, so on a
busy machine a call on two threads takes 100 ms where it takes 5 ms on one.)

**Verdict** (:func:`measure`). After each measurement, the rounds of all measurements so far decide
with a sign test: the check passes when so many rounds reach the threshold that, were the median
ratio below it, so many would come with a probability under ``1 - confidence``; it fails when so many
rounds fall short that, were the median ratio at or above the threshold, so many would come with a
probability under ``1 - confidence``; otherwise the rounds disagree and a new measurement adds
rounds, up to ``attempts`` measurements, after which the median ratio of all rounds decides. No time
limit decides a verdict: only how the two Nets' times compare, round by round.

**Fresh batches.** No batch reaches the student twice, so an answer cached from an earlier call
saves no time: batch ``i`` of measurement ``attempt`` is :func:`~cnngrade.grader.inputs.image_batch`
drawn from a generator seeded with :func:`batch_seed` ``(seed, attempt, i)`` (a hash: grading a
submission again times the same batches; no other check's batch has such a seed), and
:func:`compare_fps` refuses a batch whose bytes it gave the student before. Warm-up rounds are rounds
whose times are left out: the student cannot tell them from timed ones. ``check`` sees every output of
the student with the reference's for the same batch, so a Net fast only on the calls it takes for
timed ones (by returning cached, made-up or constant outputs there) fails: the caller compares each
output with what Net computes (:func:`output_problem`), as the grader computes it, or as a fresh
``Net()`` with the same weights returns it untimed.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch

from cnngrade.grader.equivalence import as_log_probabilities
from cnngrade.grader.inputs import Inputs, image_batch

Forward = Callable[[torch.Tensor], torch.Tensor]
#: ``check(batch, student_output, reference_output)``
Check = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]
#: a clock in seconds (``time.perf_counter``; tests give a fake one)
Clock = Callable[[], float]
#: the confidence of a verdict the rounds agree on (see :func:`sign_test`)
CONFIDENCE = 0.99


class RepeatedBatch(RuntimeError):
    """A batch was about to reach the student a second time (a bug in the grader, not the student's)."""


@dataclass(frozen=True)
class SpeedComparison:
    """One measurement: the seconds of each timed round's call of the student's and the reference's model."""

    batch_size: int
    student_times: tuple[float, ...]
    reference_times: tuple[float, ...]

    @property
    def ratios(self) -> tuple[float, ...]:
        """Each round's reference seconds / student seconds: the student's FPS over the reference's."""
        return tuple(r / s for s, r in zip(self.student_times, self.reference_times, strict=True))

    @property
    def ratio(self) -> float:
        """The median of :attr:`ratios`."""
        return statistics.median(self.ratios)

    @property
    def student_fps(self) -> float:
        """Batch size / the median seconds of the student's calls."""
        return self.batch_size / statistics.median(self.student_times)

    @property
    def reference_fps(self) -> float:
        """Batch size / the median seconds of the reference's calls."""
        return self.batch_size / statistics.median(self.reference_times)


@dataclass(frozen=True)
class SpeedVerdict:
    """The measurements :func:`measure` took, and what their rounds together say."""

    measurements: tuple[SpeedComparison, ...]
    threshold: float
    passed: bool
    #: whether the sign test decided (else the rounds disagreed until the last measurement, and the
    #: median ratio of all rounds decided)
    confident: bool

    @property
    def pooled(self) -> SpeedComparison:
        """Every timed round of every measurement, as one measurement."""
        return SpeedComparison(self.measurements[0].batch_size,
                               tuple(t for m in self.measurements for t in m.student_times),
                               tuple(t for m in self.measurements for t in m.reference_times))

    @property
    def rounds(self) -> int:
        """The timed rounds of all measurements."""
        return len(self.pooled.student_times)

    @property
    def short(self) -> int:
        """The rounds whose ratio fell short of the threshold."""
        return sum(r < self.threshold for r in self.pooled.ratios)


def batch_seed(seed: int, attempt: int, index: int) -> int:
    """The generator seed of batch ``index`` of measurement ``attempt``: 63 bits of
    sha256("cnngrade-speed:{seed}:{attempt}:{index}")."""
    digest = hashlib.sha256(f"cnngrade-speed:{seed}:{attempt}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def fresh_batches(n: int, inputs: Inputs, seed: int, attempt: int) -> Iterator[torch.Tensor]:
    """Batches of ``n`` inputs for measurement ``attempt``: ``image_batch(n, inputs, batch_seed(seed, attempt, i))``
    for i = 0, 1, ... (the same values, dtype and layout as every other check's inputs)."""
    for index in itertools.count():
        yield image_batch(n, inputs, batch_seed(seed, attempt, index))


def fingerprint(x: torch.Tensor) -> bytes:
    """A digest of the batch's shape, dtype and bytes."""
    data = x.detach().cpu().contiguous()
    header = f"{tuple(data.shape)}:{data.dtype}:".encode()
    return hashlib.blake2b(header + data.numpy().tobytes(), digest_size=16).digest()


def admit(seen: set[bytes], x: torch.Tensor) -> None:
    """Record that ``x`` goes to the student; :class:`RepeatedBatch` if it went before."""
    key = fingerprint(x)
    if key in seen:
        raise RepeatedBatch(f"a batch of shape {tuple(x.shape)} would be given to the student a second time")
    seen.add(key)


def output_problem(output: torch.Tensor, expected: torch.Tensor, tolerance: float, *,
                   raw: bool = False) -> float | None:
    """None when ``output`` is within ``tolerance`` of ``expected`` everywhere, else the largest difference
    (inf for another shape or non-finite values).

    Outputs are compared as :func:`~cnngrade.grader.equivalence.as_log_probabilities` reads them (class
    scores as log-probabilities, a binary output as it is), or, with ``raw``, as they are, the tolerance
    relative too: ``|output - expected| <= tolerance * (1 + |expected|)``."""
    if not torch.isfinite(output).all():
        return float("inf")
    if raw:
        if output.shape != expected.shape:
            return float("inf")
        difference = (output.double() - expected.double()).abs()
        allowed = tolerance * (1 + expected.double().abs())
        return None if (difference <= allowed).all() else float(difference.max())
    target = as_log_probabilities(expected)[0]
    differences = [float((c - target).abs().max()) for c in as_log_probabilities(output) if c.shape == target.shape]
    best = min(differences, default=float("inf"))
    return None if best <= tolerance else best


def _timed(forward: Forward, x: torch.Tensor, synchronize: Callable[[], None], clock: Clock
           ) -> tuple[float, torch.Tensor]:
    synchronize()
    start = clock()
    out = forward(x)
    synchronize()
    return clock() - start, out


def compare_fps(
    student: Forward,
    reference: Forward,
    batches: Iterable[torch.Tensor],
    *,
    repeats: int = 15,
    warmup: int = 3,
    synchronize: Callable[[], None] = lambda: None,
    check: Check | None = None,
    seen: set[bytes] | None = None,
    clock: Clock = time.perf_counter,
) -> SpeedComparison:
    """Time ``student`` and ``reference`` in ``warmup + repeats`` rounds, one batch from ``batches`` per
    round for both, back to back, alternating which goes first; the first ``warmup`` rounds' times are
    left out.

    ``seen``: fingerprints of the batches the student was given (shared between measurements); a batch
    given before raises :class:`RepeatedBatch`. ``check(batch, student_output, reference_output)`` sees
    every round's outputs, warm-up ones too, after the round's calls.
    """
    seen = set() if seen is None else seen
    student_times: list[float] = []
    reference_times: list[float] = []
    n = 0
    for i, x in zip(range(warmup + repeats), batches, strict=False):
        admit(seen, x)
        n = x.shape[0]
        outputs: dict[str, torch.Tensor] = {}
        pair = [("student", student, student_times), ("reference", reference, reference_times)]
        for role, forward, times in pair if i % 2 == 0 else reversed(pair):
            seconds, outputs[role] = _timed(forward, x, synchronize, clock)
            if i >= warmup:
                times.append(max(seconds, 1e-9))
        if check is not None:
            check(x, outputs["student"], outputs["reference"])
    if len(student_times) < max(repeats, 1):
        raise ValueError(f"compare_fps needs {warmup + repeats} batches and got {warmup + len(student_times)}")
    return SpeedComparison(n, tuple(student_times), tuple(reference_times))


def _at_most(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def sign_test(ratios: Iterable[float], threshold: float, confidence: float = CONFIDENCE) -> bool | None:
    """True when the rounds say, with ``confidence``, that the median ratio is at least ``threshold``;
    False when they say it is below; None when they cannot tell.

    Were the median ratio below the threshold, each round would reach it with a probability of at most
    1/2: ``k`` rounds of ``n`` reaching it is evidence of a median at or above it when P(Binomial(n, 1/2)
    >= k) < 1 - confidence, and the other way round for the rounds that fall short."""
    ratios = list(ratios)
    n, reached = len(ratios), sum(r >= threshold for r in ratios)
    if _at_most(n - reached, n) < 1 - confidence:
        return True
    if _at_most(reached, n) < 1 - confidence:
        return False
    return None


def measure(
    student: Forward,
    reference: Forward,
    batches: Callable[[int], Iterable[torch.Tensor]],
    threshold: float,
    *,
    attempts: int = 3,
    confidence: float = CONFIDENCE,
    repeats: int = 15,
    warmup: int = 3,
    check: Check | None = None,
    clock: Clock = time.perf_counter,
    seen: set[bytes] | None = None,
) -> SpeedVerdict:
    """Up to ``attempts`` measurements (:func:`compare_fps`), measurement ``a`` on ``batches(a)``, until the
    rounds of all of them pass or fail the :func:`sign_test`; after the last, the median ratio of all
    rounds decides. Every measurement adds to ``seen``, the batches given to the student."""
    seen = set() if seen is None else seen
    measurements: list[SpeedComparison] = []
    for attempt in range(max(attempts, 1)):
        measurements.append(compare_fps(student, reference, batches(attempt), repeats=repeats, warmup=warmup,
                                        check=check, seen=seen, clock=clock))
        ratios = [r for m in measurements for r in m.ratios]
        decided = sign_test(ratios, threshold, confidence)
        if decided is not None:
            return SpeedVerdict(tuple(measurements), threshold, decided, True)
    return SpeedVerdict(tuple(measurements), threshold, statistics.median(ratios) >= threshold, False)
