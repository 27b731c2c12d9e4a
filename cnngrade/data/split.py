"""An in-memory dataset split held as tensors, batched by indexing.

A :class:`Split` keeps its inputs in ``images``: one ``torch.uint8`` tensor of images, ``(N, H, W)`` (one
channel, as MNIST) or ``(N, C, H, W)`` (as CIFAR-10), or one ``torch.float32`` tensor ``(N, F)`` of tabular
features (a lab's own CSV or npz, :mod:`cnngrade.data.lab_data`); and the labels as one ``torch.int64``
tensor ``(N,)``. Batches are taken by slicing or indexing those tensors and normalised one batch at a time:
images each channel c, ``x = (pixel / 255 - mean[c]) / std[c]``, the same values as torchvision's
``ToTensor()`` followed by ``Normalize(mean, std)`` (no per-sample PIL image, no ``DataLoader`` workers);
features each feature f, ``x = (x - mean[f]) / std[f]``, or as they are without a mean and deviation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["MNIST_MEAN", "MNIST_STD", "MNIST_CLASSES", "FASHION_MNIST_CLASSES", "Split", "normalize"]

#: Mean and standard deviation of MNIST training pixels scaled to [0, 1] (the lab's Normalize values).
MNIST_MEAN: float = 0.1307
MNIST_STD: float = 0.3081
MNIST_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def normalize(
    images: torch.Tensor, mean: Sequence[float] = (MNIST_MEAN,), std: Sequence[float] = (MNIST_STD,)
) -> torch.Tensor:
    """uint8 ``images`` ``(B, H, W)`` or ``(B, C, H, W)`` as float32 ``(B, C, H, W)`` on the same device,
    each channel c: x = (pixel / 255 - mean[c]) / std[c] (one value of each for every channel if only
    one is given); float features ``(B, F)`` as float32, each feature f: x = (x - mean[f]) / std[f] (as
    they are where ``mean`` is empty)."""
    if images.dtype != torch.uint8:
        x = images.to(torch.float32, copy=True)
        if not len(mean):
            return x
        return x.sub_(torch.tensor(mean, device=x.device)).div_(torch.tensor(std, device=x.device))
    x = images.to(torch.float32).div_(255.0)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if len(mean) == 1:
        return x.sub_(mean[0]).div_(std[0])
    view = (1, len(mean), 1, 1)
    return x.sub_(torch.tensor(mean, device=x.device).view(view)).div_(torch.tensor(std, device=x.device).view(view))


@dataclass(eq=False)
class Split:
    """One split of a classification dataset (e.g. ``mnist-train``), held in memory.

    Attributes:
        name: a short name such as ``"mnist-bundled-test"``, used in messages.
        images: the inputs: ``torch.uint8`` images ``(N, H, W)`` or ``(N, C, H, W)``, or
            ``torch.float32`` tabular features ``(N, F)``.
        labels: ``torch.int64`` tensor ``(N,)``.
        classes: class names, index = label (two for a binary dataset).
        mean, std: each channel's (or feature's) normalisation, applied to each batch (MNIST's by
            default; empty: features as they are).
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...] = MNIST_CLASSES
    mean: tuple[float, ...] = (MNIST_MEAN,)
    std: tuple[float, ...] = (MNIST_STD,)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        image = self.images.dtype == torch.uint8 and self.images.dim() in (3, 4)
        if not image and not (self.images.dtype == torch.float32 and self.images.dim() == 2):
            raise ValueError(
                f"{self.name}: images must be uint8 (N, H, W) or (N, C, H, W), or features float32 (N, F), got "
                f"{self.images.dtype} {tuple(self.images.shape)}"
            )
        self.labels = self.labels.to(torch.int64)
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"{self.name}: {self.images.shape[0]} images but labels of shape {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        size = tuple(self.images.shape[1:])
        what = f"inputs of {size[0]} features" if self.tabular else f"images {size}"
        return f"Split({self.name!r}, {len(self)} {what}, {len(self.classes)} classes)"

    @property
    def tabular(self) -> bool:
        """Whether the inputs are tabular features ``(N, F)``, not images."""
        return self.images.dim() == 2

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self) -> list[int]:
        """Number of samples of each class, index = label."""
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def subset(self, indices: torch.Tensor | Sequence[int] | slice, name: str | None = None) -> Split:
        """A new split holding the samples at ``indices`` (a slice gives views, an index tensor copies)."""
        if not isinstance(indices, slice):
            indices = torch.as_tensor(indices, dtype=torch.int64)
        return Split(
            name or self.name,
            self.images[indices],
            self.labels[indices],
            self.classes,
            self.mean,
            self.std,
            self.source,
        )

    def normalized(
        self, indices: torch.Tensor | slice | None = None, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The (normalised float images ``(B, C, H, W)`` or features ``(B, F)``, int64 labels) at ``indices``
        (all when None)."""
        images = self.images if indices is None else self.images[indices]
        labels = self.labels if indices is None else self.labels[indices]
        if device is not None:  # move uint8 (4x fewer bytes than float32), normalise there
            images, labels = images.to(device), labels.to(device)
        return normalize(images, self.mean, self.std), labels

    def batches(
        self,
        batch_size: int = 64,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
        device: torch.device | str | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(images, labels)`` batches: float32 ``(B, C, H, W)`` (or ``(B, F)``) normalised, int64 ``(B,)``.

        In order by default (slices, no copy until normalisation); with ``shuffle`` a fresh permutation from
        ``generator`` or, when given, a generator seeded with ``seed`` (same seed, same order).
        ``drop_last`` drops a final batch smaller than ``batch_size``. With ``device`` the uint8 batch is
        moved there before it is normalised.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        n = len(self)
        order: torch.Tensor | None = None
        if shuffle:
            if generator is None and seed is not None:
                generator = torch.Generator().manual_seed(seed)
            order = torch.randperm(n, generator=generator)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            end = min(start + batch_size, n)
            index = slice(start, end) if order is None else order[start:end]
            yield self.normalized(index, device)

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        """How many batches :meth:`batches` yields for ``batch_size``."""
        return len(self) // batch_size if drop_last else -(-len(self) // batch_size)
