"""Inference speed: frames per second of two models measured side by side by the caller's clock.

Each repeat times one forward call of each model on the same fresh batch, alternating which
goes first; FPS = batch size / median seconds per call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

Forward = Callable[[torch.Tensor], torch.Tensor]


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


def _timed(forward: Forward, x: torch.Tensor, synchronize: Callable[[], None]) -> tuple[float, torch.Tensor]:
    synchronize()
    start = time.perf_counter()
    out = forward(x)
    synchronize()
    return time.perf_counter() - start, out


def compare_fps(
    student: Forward,
    reference: Forward,
    make_batch: Callable[[int], torch.Tensor],
    *,
    repeats: int = 15,
    warmup: int = 3,
    synchronize: Callable[[], None] = lambda: None,
    check: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
) -> SpeedComparison:
    """Time ``student`` and ``reference`` on ``repeats`` fresh batches (``make_batch(i)``), interleaved.

    ``check(batch, student_output)`` sees every timed student output (to reject garbage).
    """
    for i in range(warmup):
        x = make_batch(-1 - i)
        student(x)
        reference(x)
    student_times, reference_times = [], []
    for i in range(repeats):
        x = make_batch(i)
        pair = [(student, student_times), (reference, reference_times)]
        for forward, times in pair if i % 2 == 0 else reversed(pair):
            seconds, out = _timed(forward, x, synchronize)
            times.append(seconds)
            if forward is student and check is not None:
                check(x, out)
    n = make_batch(0).shape[0]
    return SpeedComparison(
        n / statistics.median(student_times),
        n / statistics.median(reference_times),
        tuple(student_times),
        tuple(reference_times),
    )
