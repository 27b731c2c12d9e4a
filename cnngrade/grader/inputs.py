"""Inputs the graders feed to a student's Net."""

from __future__ import annotations

import torch

#: MNIST's pixel mean and standard deviation, as the lab normalises its images.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def image_batch(n: int, shape: tuple[int, ...] = (1, 28, 28), seed: int = 0) -> torch.Tensor:
    """``n`` images of ``shape`` with MNIST-normalised pixel values, reproducible from ``seed``.

    Pixels are uniform in [0, 1] before normalisation: x = (u - 0.1307) / 0.3081.
    """
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand((n, *shape), generator=generator) - MNIST_MEAN) / MNIST_STD
