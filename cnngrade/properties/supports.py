"""What an implementation declares it supports: the argument space the checks exercise.

:class:`Supports` is a frozen dataclass of boolean axes (and the dtypes drawn); every check
draws only cases its declaration covers. :func:`as_supports` turns the short forms a check
accepts (``None``, ``"all"``, ``"torch"``, an axis name, a set of axis names) into one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Supports:
    """The argument space an implementation declares it supports; the checks exercise only that.

    The default is what the lab's students implement: int or pair ``kernel_size`` / ``stride`` /
    ``padding``, ``(N, C, H, W)``, ``(C, H, W)`` and (pooling) ``(H, W)`` inputs, float32 and
    float64, and the errors torch raises for a stride of zero or a padding over half the kernel.
    Every other axis is off unless declared:

    ``tuple_args``         kernel/stride/padding (and dilation) given as pairs as well as ints
    ``unbatched``          ``(C, H, W)`` inputs (unfold: ``(C, H, W)``; fold: ``(C*kh*kw, L)``)
    ``hw_input``           ``(H, W)`` inputs for pooling (the lab asks for them; torch refuses them)
    ``dilation``           ``dilation=`` for max pooling, unfold, fold and convolution
    ``ceil_mode``          ``ceil_mode=`` for pooling (windows starting in the right padding dropped)
    ``count_include_pad``  ``count_include_pad=False`` for average pooling
    ``divisor_override``   ``divisor_override=`` for average pooling
    ``return_indices``     ``return_indices=True`` for max pooling
    ``empty_batch``        batch size N = 0
    ``non_contiguous``     non-contiguous inputs (transposed views, strided slices)
    ``channels_last``      4-D inputs in ``torch.channels_last`` memory format
    ``nan_inf``            NaN propagation and windows of all ``-inf``
    ``groups``             ``groups=`` for convolution
    ``same_padding``       ``padding='same'`` and ``'valid'`` for convolution
    ``errors``             raises (ValueError or RuntimeError) where torch does
    ``dtypes``             the floating dtypes inputs are drawn in

    Declare with the dataclass, ``Supports(dilation=True, ceil_mode=True)``, with a set of axis
    names added to the default, ``{"dilation", "ceil_mode"}``, or with ``"all"``
    (:meth:`Supports.all`); :meth:`Supports.torch` is what ``torch.nn.functional`` supports.
    """

    tuple_args: bool = True
    unbatched: bool = True
    hw_input: bool = True
    dilation: bool = False
    ceil_mode: bool = False
    count_include_pad: bool = False
    divisor_override: bool = False
    return_indices: bool = False
    empty_batch: bool = False
    non_contiguous: bool = False
    channels_last: bool = False
    nan_inf: bool = False
    groups: bool = False
    same_padding: bool = False
    errors: bool = True
    dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float64)

    @classmethod
    def all(cls, **overrides: Any) -> Supports:
        """Every axis on (``overrides`` turn some off again)."""
        values = {f.name: True for f in dataclasses.fields(cls) if f.name != "dtypes"}
        values.update(overrides)
        return cls(**values)

    @classmethod
    def torch(cls) -> Supports:
        """What ``torch.nn.functional`` supports: everything but ``(H, W)`` pooling inputs."""
        return cls.all(hw_input=False)

    @classmethod
    def axes(cls) -> tuple[str, ...]:
        """The names of the boolean axes."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "dtypes")


#: the declarations a check's ``supports=`` accepts (see :func:`as_supports`)
SupportsArg = Supports | str | Iterable[str] | None


def as_supports(value: SupportsArg) -> Supports:
    """A :class:`Supports` from a declaration: ``None`` (the lab's default), a ``Supports``,
    ``"all"``, ``"torch"``, one axis name, or a set of axis names to add to the default."""
    if value is None:
        return Supports()
    if isinstance(value, Supports):
        return value
    if value == "all":
        return Supports.all()
    if value == "torch":
        return Supports.torch()
    names = {value} if isinstance(value, str) else set(value)
    unknown = names - set(Supports.axes())
    if unknown:
        raise ValueError(f"unknown supports axis {sorted(unknown)}; known: {', '.join(Supports.axes())}")
    return Supports(**{name: True for name in names})
