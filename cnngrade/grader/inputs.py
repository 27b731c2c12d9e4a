"""Inputs the graders feed to a student's network: random images of the lab's input shape,
normalised as the lab normalises its images (``[net]`` of lab.toml: ``input_shape``, ``input_mean``,
``input_std``, one mean and standard deviation per channel)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cnngrade.lab.config import DEFAULT_LAB_CONFIG, LabConfig


@dataclass(frozen=True)
class Inputs:
    """One input image's ``shape`` ``(C, H, W)`` (or any shape whose first dimension is the
    channels), and each channel's ``mean`` and ``std`` the lab normalises pixels with."""

    shape: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.shape or len(self.mean) != len(self.std) or len(self.mean) not in (1, self.shape[0]):
            raise ValueError(f"input_mean {list(self.mean)} and input_std {list(self.std)} need one value, or one "
                             f"per channel of input_shape {list(self.shape)}")

    @classmethod
    def from_lab(cls, lab: LabConfig) -> Inputs:
        """From ``[net]``: ``input_shape``, ``input_mean``, ``input_std``."""
        return cls(tuple(int(d) for d in lab.setting("net.input_shape")), _floats(lab, "net.input_mean"),
                   _floats(lab, "net.input_std"))

    def batch(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` images, reproducible from ``seed``: pixels uniform in [0, 1), then normalised per
        channel c: x = (u - mean[c]) / std[c]. Shape ``(n, *shape)``, float32."""
        generator = torch.Generator().manual_seed(seed)
        u = torch.rand((n, *self.shape), generator=generator)
        view = (1, len(self.mean), *([1] * (len(self.shape) - 1)))
        return (u - torch.tensor(self.mean).view(view)) / torch.tensor(self.std).view(view)


def _floats(lab: LabConfig, key: str) -> tuple[float, ...]:
    value = lab.setting(key)
    return tuple(float(v) for v in (value if isinstance(value, Sequence) else [value]))


@functools.lru_cache(maxsize=1)
def default_inputs() -> Inputs:
    """The inputs of the project's default lab (``graders/lab.toml``)."""
    return Inputs.from_lab(LabConfig.load(DEFAULT_LAB_CONFIG))


def image_batch(n: int, inputs: Inputs | None = None, seed: int = 0) -> torch.Tensor:
    """:meth:`Inputs.batch` of ``inputs`` (default: the project's default lab's)."""
    return (inputs or default_inputs()).batch(n, seed)
