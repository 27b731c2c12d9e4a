"""A small generated dataset in torchvision's CIFAR-10 layout, for the CIFAR-10 lab's accuracy checks.

Class c's images are one smooth colour pattern of its own (drawn from the seed) plus strong per-pixel
noise: pixel = clip(128 + 48 * pattern_c + 56 * noise), uint8 ``(3, 32, 32)``. A working CNN learns
it from a thousand images; a net that cannot learn stays near 10%.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cnngrade.data.cifar import CIFAR10_CLASSES, CIFAR10_FILES, CIFAR10_FOLDER, write_cifar_batch


def _patterns(generator: torch.Generator) -> torch.Tensor:
    """One smooth pattern ``(3, 32, 32)`` per class: 4x4 random values, bilinearly upsampled."""
    coarse = torch.randn(len(CIFAR10_CLASSES), 3, 4, 4, generator=generator)
    return F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)


def _images(patterns: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> np.ndarray:
    noise = torch.randn(len(labels), 3, 32, 32, generator=generator)
    pixels = 128 + 48 * patterns[labels] + 56 * noise
    return pixels.round().clamp(0, 255).to(torch.uint8).numpy()


def write_cifar10_like(root: Path, train: int = 400, test: int = 200, seed: int = 0) -> Path:
    """Write ``root/cifar-10-batches-py/`` with ``train`` images over the five training batches and
    ``test`` in the test batch (classes in turn), and ``batches.meta``; return ``root``."""
    generator = torch.Generator().manual_seed(seed)
    patterns = _patterns(generator)
    folder = root / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {"train": train, "test": test}
    for split, files in CIFAR10_FILES.items():
        labels = torch.arange(sizes[split]) % len(CIFAR10_CLASSES)
        labels = labels[torch.randperm(len(labels), generator=generator)]
        images = _images(patterns, labels, generator)
        for index, name in enumerate(files):
            part = slice(index * len(labels) // len(files), (index + 1) * len(labels) // len(files))
            write_cifar_batch(folder / name, images[part], labels[part].numpy())
    meta = {"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": train // 5, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root
