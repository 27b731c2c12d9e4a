"""The boundary between the checks and an implementation: the arrays it takes and their layouts.

The checks hold torch tensors in torch's layouts, channels first: images ``(N, C, H, W)``,
``(C, H, W)`` or ``(H, W)``, weights ``(out, in, kh, kw)``. An implementation declares (see
:class:`~cnngrade.properties.supports.Supports`) the array library it takes and returns
(``array``: ``torch`` or ``numpy``) and where its channels are (``layouts``: NHWC / HWC put them
last; ``weight_layout`` HWIO puts a weight's ``(kh, kw, in, out)``). :class:`Boundary` converts
each tensor as its *role* says::

    role      checks' form           implementation's form (channels last / HWIO)
    image     (N, C, H, W)           (N, H, W, C)        x, the output, dout, dx
              (C, H, W)              (H, W, C)
              (H, W)                 (H, W)
    weight    (out, in, kh, kw)      (kh, kw, in, out)   a convolution's weight, dw
    plain     any                    the same            a bias, unfold's patches

and numpy arrays are converted from and to tensors of the same dtype (a tensor given to numpy code
shares its memory, so that modifying it in place is seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cnngrade.properties.formatting import format_tensor

#: permutations from the checks' form to the implementation's, by rank, for channels-last images
_TO_CHANNELS_LAST = {4: (0, 2, 3, 1), 3: (1, 2, 0)}
_FROM_CHANNELS_LAST = {4: (0, 3, 1, 2), 3: (2, 0, 1)}
_TO_HWIO, _FROM_HWIO = (2, 3, 1, 0), (3, 2, 0, 1)


@dataclass(frozen=True)
class Boundary:
    """How tensors cross to an implementation and back: ``numpy`` arrays or tensors, channels
    last or not, ``hwio`` weights or not."""

    numpy: bool = False
    channels_last: bool = False
    hwio: bool = False

    def outgoing(self, tensor: torch.Tensor | None, role: str) -> Any:
        """``tensor`` (checks' form) as the implementation takes it; None stays None."""
        if tensor is None:
            return None
        order = self._order(tensor, role, _TO_CHANNELS_LAST, _TO_HWIO)
        if order is not None:
            tensor = tensor.permute(order).contiguous()
        return tensor.detach().numpy() if self.numpy else tensor

    def incoming(self, value: Any, role: str) -> torch.Tensor | None:
        """What the implementation returned, as a tensor in the checks' form; None when it is not an
        array of the declared kind (a tensor is taken from numpy code too)."""
        if isinstance(value, np.ndarray) and self.numpy:
            if value.dtype == object:
                return None
            tensor = torch.from_numpy(np.ascontiguousarray(value))
        elif isinstance(value, torch.Tensor):
            tensor = value
        else:
            return None
        order = self._order(tensor, role, _FROM_CHANNELS_LAST, _FROM_HWIO)
        return tensor.permute(order) if order is not None else tensor

    def _order(
        self, tensor: torch.Tensor, role: str, images: dict[int, tuple[int, ...]], weights: tuple[int, ...]
    ) -> tuple[int, ...] | None:
        if role == "image" and self.channels_last:
            return images.get(tensor.dim())
        if role == "weight" and self.hwio and tensor.dim() == 4:
            return weights
        return None

    def kind(self) -> str:
        """``tensor`` or ``array``, for messages."""
        return "array" if self.numpy else "tensor"


def snapshot(value: Any) -> Any:
    """A copy of an argument as handed over (tensor or array), to see later whether it changed."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return value


def as_tensor(value: Any) -> torch.Tensor:
    """An argument as handed over (tensor or array), as a tensor (sharing memory where it can)."""
    return torch.from_numpy(value) if isinstance(value, np.ndarray) else value.detach()


def format_argument(value: Any) -> str:
    """A tensor as ``tensor([[1., 2.]])``, a numpy array as ``array([[1., 2.]])`` (its dtype
    named unless float32), anything else as ``repr``."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        text = format_tensor(torch.from_numpy(np.ascontiguousarray(value)))
        return "array" + text.removeprefix("tensor").replace("dtype=torch.", "dtype=")
    if isinstance(value, torch.Tensor):
        return format_tensor(value)
    return repr(value)
