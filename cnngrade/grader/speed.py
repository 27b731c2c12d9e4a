"""Inference speed: frames per second of two models measured side by side by the caller's clock.

Each repeat times one forward call of each model on the same batch, alternating which goes first;
FPS = batch size / median seconds per call, and the ratio is the student's FPS / the reference's FPS.

No batch reaches the student twice, so an answer cached from an earlier call saves no time: batch ``i``
of measurement ``attempt`` is :func:`~cnngrade.grader.inputs.image_batch` drawn from a generator seeded
with :func:`batch_seed` ``(seed, attempt, i)`` (a hash: grading a submission again times the same
batches; no other check's batch has such a seed), and :func:`compare_fps` refuses a batch whose bytes
it gave the student before. Warm-up calls are repeats whose times are left out: the student cannot
tell them from timed ones. ``check`` sees every output of the student with the reference's for the
same batch (:func:`output_problem`), so a Net fast only on the calls it takes for timed ones (by
returning cached, made-up or constant outputs there) fails.
"""

from __future__ import annotations

import hashlib
import itertools
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


class RepeatedBatch(RuntimeError):
    """A batch was about to reach the student a second time (a bug in the grader, not the student's)."""


@dataclass(frozen=True)
class SpeedComparison:
    """Median frames per second of the student's and the reference's model, and their ratio."""

    student_fps: float
    reference_fps: float
    student_times: tuple[float, ...]
    reference_times: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """student_fps / reference_fps."""
        return self.student_fps / self.reference_fps


def batch_seed(seed: int, attempt: int, index: int) -> int:
    """The generator seed of batch ``index`` of measurement ``attempt``: 63 bits of
    sha256("cnngrade-speed:{seed}:{attempt}:{index}")."""
    digest = hashlib.sha256(f"cnngrade-speed:{seed}:{attempt}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def fresh_batches(n: int, inputs: Inputs, seed: int, attempt: int) -> Iterator[torch.Tensor]:
    """Batches of ``n`` images for measurement ``attempt``: ``image_batch(n, inputs, batch_seed(seed, attempt, i))``
    for i = 0, 1, ... (the same values, dtype and layout as every other check's images)."""
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


def output_problem(output: torch.Tensor, expected: torch.Tensor, tolerance: float) -> float | None:
    """None when ``output`` read as log-probabilities (log_softmax of it, or the log of probabilities)
    is within ``tolerance`` of ``expected``'s everywhere, else the largest difference (inf for another
    shape or non-finite values)."""
    if output.shape != expected.shape or not torch.isfinite(output).all():
        return float("inf")
    target = as_log_probabilities(expected)[0]
    differences = [float((c - target).abs().max()) for c in as_log_probabilities(output)]
    best = min(differences, default=float("inf"))
    return None if best <= tolerance else best


def _timed(forward: Forward, x: torch.Tensor, synchronize: Callable[[], None]) -> tuple[float, torch.Tensor]:
    synchronize()
    start = time.perf_counter()
    out = forward(x)
    synchronize()
    return time.perf_counter() - start, out


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
) -> SpeedComparison:
    """Time ``student`` and ``reference`` on ``warmup + repeats`` batches taken from ``batches``, one
    batch per repeat for both, interleaved; the first ``warmup`` repeats' times are left out.

    ``seen``: fingerprints of the batches the student was given (shared between measurements); a batch
    given before raises :class:`RepeatedBatch`. ``check(batch, student_output, reference_output)`` sees
    every repeat's outputs, warm-up ones too. FPS = batch size / median seconds per call.
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
            seconds, outputs[role] = _timed(forward, x, synchronize)
            if i >= warmup:
                times.append(seconds)
        if check is not None:
            check(x, outputs["student"], outputs["reference"])
    if len(student_times) < max(repeats, 1):
        raise ValueError(f"compare_fps needs {warmup + repeats} batches and got {warmup + len(student_times)}")
    return SpeedComparison(
        n / statistics.median(student_times),
        n / statistics.median(reference_times),
        tuple(student_times),
        tuple(reference_times),
    )
