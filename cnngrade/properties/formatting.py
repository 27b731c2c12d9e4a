"""Tensors, shapes, values and calls written for the messages a student reads.

Everything is one line, in torch's own notation where it has one::

    format_shape((1, 1, 3, 3))            (1, 1, 3, 3)
    format_tensor(torch.tensor([[1., -0.25], [nan, -inf]]))
                                          tensor([[1., -0.25], [nan, -inf]])
    describe_result([t])                  a list of 1 values
    format_kwargs({"kernel_size": 2})     kernel_size=2

float32 (and half) values are written with float32's shortest representation, so that a value
drawn as a quarter reads ``-0.25``, not ``-0.25000000298``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def format_shape(shape: Sequence[int]) -> str:
    """``(1, 1, 3, 3)``, ``(5,)``."""
    shape = tuple(int(s) for s in shape)
    return f"({shape[0]},)" if len(shape) == 1 else str(shape)


def format_number(value: Any, dtype: torch.dtype) -> str:
    """One number as an element of a ``dtype`` tensor: ``5.``, ``-0.25``, ``nan``, ``-inf``, ``3``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = str(np.float32(value)) if dtype in (torch.float32, torch.float16, torch.bfloat16) else repr(value)
    if text.endswith(".0"):
        text = text[:-1]
    return text


def format_tensor(tensor: torch.Tensor, limit: int = 1500) -> str:
    """A one-line ``tensor([[1., 2.], [3., 4.]])`` (torch's notation; long ones cut at ``limit``)."""
    t = tensor.detach().cpu()
    suffix = "" if t.dtype in (torch.float32, torch.int64, torch.bool) else f", dtype={t.dtype}"
    if t.numel() == 0:
        return f"tensor([], size={format_shape(t.shape)}{suffix})"

    def render(item: Any) -> str:
        if isinstance(item, list):
            return "[" + ", ".join(render(e) for e in item) + "]"
        return format_number(item, t.dtype)

    body = render(t.tolist())
    if len(body) > limit:
        body = body[:limit].rsplit(",", 1)[0] + ", ... (cut; shape " + format_shape(t.shape) + ")"
    return f"tensor({body}{suffix})"


def format_scalar(element: torch.Tensor) -> str:
    """One element of a tensor, as in :func:`format_tensor`: ``5.``, ``-inf``, ``0.1``."""
    return format_number(element.detach().reshape(()).item(), element.dtype)


def format_value(value: Any) -> str:
    """Tensors as :func:`format_tensor`, everything else as ``repr``."""
    if isinstance(value, torch.Tensor):
        return format_tensor(value)
    return repr(value)


def describe_result(value: Any) -> str:
    """What a call returned, in a few words: ``a (1, 2) tensor``, ``a tuple of 2 values``, ``None``."""
    if isinstance(value, torch.Tensor):
        return f"a {format_shape(value.shape)} tensor"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} values"
    if value is None:
        return "None"
    return f"a {type(value).__name__} ({value!r})"


def format_kwargs(kwargs: dict[str, Any]) -> str:
    """``kernel_size=2, stride=1, padding=0``."""
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
