"""Inputs the graders feed to a student's network, of the lab's input shape (``[net] input_shape`` of
lab.toml), as Net receives them after the lab's normalisation (``input_mean``, ``input_std``):

* images ``[C, H, W]`` (or any shape of 2 dimensions or more whose first is the channels): pixels
  uniform in [0, 1), normalised per channel c: x = (u - mean[c]) / std[c] (one mean and standard
  deviation per channel, or one for all; an image lab must give them);
* tabular features ``[F]``: each feature drawn from N(mean[f], std[f]) and normalised as the lab
  normalises its features, (x - mean[f]) / std[f], which is standard normal; where the lab gives no
  mean and standard deviation its features reach Net as they are, and the graders draw them standard
  normal too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cnngrade.lab.config import DEFAULT_LAB_CONFIG, ConfigError, LabConfig


@dataclass(frozen=True)
class Inputs:
    """One input's ``shape``: ``(C, H, W)`` for images, ``(F,)`` for tabular features; and the ``mean``
    and ``std`` the lab normalises each channel (or feature) with, empty where it gives none."""

    shape: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.shape or len(self.mean) != len(self.std) or len(self.mean) not in (0, 1, self.shape[0]):
            raise ValueError(f"input_mean {list(self.mean)} and input_std {list(self.std)} need one value, or one "
                             f"per {self.unit} of input_shape {list(self.shape)}")
        if not self.mean and not self.tabular:
            raise ValueError(f"an image input_shape {list(self.shape)} needs input_mean and input_std")

    @property
    def tabular(self) -> bool:
        """Whether an input is a vector of features (``input_shape = [F]``), not an image."""
        return len(self.shape) == 1

    @property
    def unit(self) -> str:
        """``channel`` of an image, ``feature`` of a tabular input."""
        return "feature" if self.tabular else "channel"

    @classmethod
    def from_lab(cls, lab: LabConfig) -> Inputs:
        """From ``[net]``: ``input_shape``, ``input_mean``, ``input_std`` (optional for features)."""
        shape = tuple(int(d) for d in lab.setting("net.input_shape"))
        given = len(shape) != 1 or lab.get("net.input_mean", None) is not None
        try:
            return cls(shape, *((_floats(lab, "net.input_mean"), _floats(lab, "net.input_std")) if given else ((), ())))
        except ValueError as exc:
            raise ConfigError(f"{lab.path}: {exc}.") from None

    def batch(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` inputs as Net receives them, reproducible from ``seed``, float32 ``(n, *shape)``: images'
        pixels uniform in [0, 1), then normalised per channel c: x = (u - mean[c]) / std[c]; features
        standard normal (drawn from N(mean, std), then normalised)."""
        generator = torch.Generator().manual_seed(seed)
        if self.tabular:
            return torch.randn((n, *self.shape), generator=generator)
        u = torch.rand((n, *self.shape), generator=generator)
        view = (1, len(self.mean), *([1] * (len(self.shape) - 1)))
        return (u - torch.tensor(self.mean).view(view)) / torch.tensor(self.std).view(view)


def input_noun(lab: LabConfig) -> str:
    """What one input of the lab's Net is, in words: ``image``, or ``input`` for tabular features
    (``[net] input_shape = [F]``)."""
    shape = lab.get("net.input_shape", [])
    return "input" if isinstance(shape, list) and len(shape) == 1 else "image"


def inputs_text(lab: LabConfig, n: int) -> str:
    """``1 image``, ``7 images``; ``7 inputs`` for tabular features."""
    return f"{n} {input_noun(lab)}" + ("" if n == 1 else "s")


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
