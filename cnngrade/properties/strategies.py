"""Hypothesis strategies for pooling and convolution cases.

Every case is legal for torch: ``padding <= kernel_size // 2`` for pooling, an output of at
least one element, strides from 1 to 5 (so often larger than the kernel), kernels as large as the
input (the smallest input a kernel allows is the one shrinking leads to), 1x1 and non-square
inputs and kernels, batches of 1 or 2, 1 to 3 channels, float32 and float64. Values are
drawn by Hypothesis as one byte string per tensor (fast to draw, see :func:`bytes_to_values`):
quarters in [-32, 32), exactly representable in float32, so that failing inputs shrink to small,
readable tensors of zeros and small numbers.

Every case lies in the argument space a :class:`~cnngrade.properties.supports.Supports`
declaration covers: the input forms of its ``layouts`` (drawn channels first; the boundary puts
the channels last where declared), pairs only with ``tuple_args`` (or where the arguments are two
ints, cs231n's ``pool_height`` / ``pool_width``), square kernels only with ``square_kernels``,
padding only with ``padding``, the ``stride`` declared (an argument fixed at torch's default, such
as pooling's stride with ``stride='kernel'``, is left out of the call), a left-out or ``None``
stride only with ``torch_defaults``; and the extension axes only where declared: dilation,
ceil_mode, count_include_pad, divisor_override, N = 0, non-contiguous and channels-last inputs,
NaN / -inf values, groups and ``padding='same'``.

Strategies take ``fixed=``: arguments pinned by a module instance (``nn.MaxPool2d(3, 2)``),
for which only the inputs are drawn.

Public strategies: :func:`tensors`, :func:`pool_cases`, :func:`pool_error_cases`,
:func:`unfold_cases`, :func:`unfold_error_cases`, :func:`fold_cases`, :func:`fold_error_cases`,
:func:`conv_cases`, :func:`conv_error_cases`, :func:`conv_output_size_cases`, :func:`dtypes`;
and the arithmetic they rely on: :func:`pool_output_size`, :func:`conv_output_size`::

    pool:  H_out = floor((H + 2p - d*(k - 1) - 1)/s) + 1   (ceil with ceil_mode, less one if
                                                         the last window starts in the padding)
    conv:  H_out = floor((H + 2p - d*(k - 1) - 1)/s) + 1

Why one module of this size: it is one concept, the Hypothesis strategies of every case type,
and they are built from the same blocks (the precomputed choice lists, :func:`bytes_to_values`,
:func:`laid_out_tensors`, the leading dims and the input sizes grown from the smallest legal
one), which keep every strategy's draws fast and shrinking towards the same small, readable
tensors; split by layer, each part would import those private blocks from the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from cnngrade.properties.formatting import format_kwargs, format_tensor
from cnngrade.properties.supports import Supports, as_supports

#: constants added to inputs: quarters in [-10, 10] (shrinking to 0)
FINITE = st.integers(-40, 40).map(lambda v: v / 4)
#: constants added to an input: small ones, and magnitudes far beyond any data value, which a padding
#: with a large finite number (-1e4 where max pooling needs -inf) cannot stay below
SHIFTS = st.one_of(FINITE, st.sampled_from((-1e6, 1e6)))
#: positive scale factors: quarters in [0.25, 8]
POSITIVE = st.integers(1, 32).map(lambda v: v / 4)
#: coefficients of linear combinations: quarters in [-4, 4]
COEFFICIENTS = st.integers(-16, 16).map(lambda v: v / 4)


def pair(value: Any) -> tuple[int, int]:
    """``2 -> (2, 2)``, ``(2, 3) -> (2, 3)``."""
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    return (int(value[0]), int(value[0])) if len(value) == 1 else (int(value[0]), int(value[1]))


# ----------------------------------------------------------------------------------------------
# Arithmetic


def pool_output_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """torch's pooling output size along one dimension::

    out = floor((size + 2p - d(k - 1) - 1) / s) + 1      (ceil instead of floor with ceil_mode,
                                                         minus one if the last window would
                                                         start in the right padding)
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """``floor((size + 2p - d(k - 1) - 1) / s) + 1``."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class PoolParams:
    """The normalized arguments of a pooling call (pairs, stride defaulted, flags)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> PoolParams:
        kernel = pair(kwargs["kernel_size"])
        stride = kwargs.get("stride")
        return cls(
            kernel=kernel,
            stride=kernel if stride is None or stride == () else pair(stride),
            padding=pair(kwargs.get("padding", 0)),
            dilation=pair(kwargs.get("dilation", 1)),
            ceil_mode=bool(kwargs.get("ceil_mode", False)),
            count_include_pad=bool(kwargs.get("count_include_pad", True)),
            divisor_override=kwargs.get("divisor_override"),
        )

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return tuple(
            pool_output_size(
                n, self.kernel[i], self.stride[i], self.padding[i], self.dilation[i], self.ceil_mode
            )
            for i, n in enumerate((height, width))
        )

    def windows_touch_input(self, dim: int, size: int) -> bool:
        """Whether every window along ``dim`` holds at least one input element (with dilation a
        window can fall entirely in the padding; torch then returns an out-of-range index)."""
        k, s, p, d = self.kernel[dim], self.stride[dim], self.padding[dim], self.dilation[dim]
        out = pool_output_size(size, k, s, p, d, self.ceil_mode)
        return all(any(p <= i * s + j * d < p + size for j in range(k)) for i in range(out))

    def grow_to_real_windows(self, dim: int, size: int) -> int:
        """The smallest size from ``size`` up whose windows all touch the input."""
        while not self.windows_touch_input(dim, size):
            size += 1
        return size

    def min_input(self) -> tuple[int, int]:
        """The smallest input size with an output: the effective kernel minus both paddings."""
        return tuple(
            max(1, self.dilation[i] * (self.kernel[i] - 1) + 1 - 2 * self.padding[i]) for i in range(2)
        )


# ----------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True, eq=False)
class PoolCase:
    """A pooling call: ``fn(x, **kwargs)``; ``layout`` says how ``x`` is laid out in memory."""

    x: torch.Tensor
    kwargs: dict[str, Any]
    layout: str = "contiguous"
    #: for error cases: what makes the arguments illegal
    error: str | None = None

    @property
    def params(self) -> PoolParams:
        return PoolParams.from_kwargs(self.kwargs)

    def output_shape(self) -> tuple[int, ...]:
        return (*self.x.shape[:-2], *self.params.output_size(*self.x.shape[-2:]))

    def __repr__(self) -> str:
        layout = "" if self.layout == "contiguous" else f", layout={self.layout!r}"
        return f"PoolCase(x={format_tensor(self.x)}, {format_kwargs(self.kwargs)}{layout})"


@dataclass(frozen=True, eq=False)
class UnfoldCase:
    """An unfold call ``fn(x, **kwargs)``."""

    x: torch.Tensor
    kwargs: dict[str, Any]
    layout: str = "contiguous"
    error: str | None = None

    def __repr__(self) -> str:
        layout = "" if self.layout == "contiguous" else f", layout={self.layout!r}"
        return f"UnfoldCase(x={format_tensor(self.x)}, {format_kwargs(self.kwargs)}{layout})"


@dataclass(frozen=True, eq=False)
class FoldCase:
    """A fold call ``fn(patches, **kwargs)``; ``image`` is an image whose ``unfold`` is ``patches``
    (for the round trip), of the same batch, channels and ``output_size``."""

    patches: torch.Tensor
    kwargs: dict[str, Any]
    image: torch.Tensor | None = None
    layout: str = "contiguous"
    error: str | None = None

    def __repr__(self) -> str:
        return f"FoldCase(patches={format_tensor(self.patches)}, {format_kwargs(self.kwargs)})"


@dataclass(frozen=True, eq=False)
class ConvCase:
    """A convolution ``fn(x, weight, bias=bias, **kwargs)``."""

    x: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor | None
    kwargs: dict[str, Any]
    layout: str = "contiguous"
    error: str | None = None

    def __repr__(self) -> str:
        bias = "None" if self.bias is None else format_tensor(self.bias)
        return (
            f"ConvCase(x={format_tensor(self.x)}, weight={format_tensor(self.weight)}, bias={bias}, "
            f"{format_kwargs(self.kwargs)})"
        )


@dataclass(frozen=True)
class SizeCase:
    """``conv_output_size(size, kernel_size, stride=..., padding=..., dilation=...)``."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# Building blocks


# Each argument is drawn as one choice among a precomputed list (sampled_from), simplest
# first: fewer choices per example make Hypothesis several times faster, and shrinking still
# goes towards the front of each list.


@cache
def _choices(options: tuple) -> st.SearchStrategy:
    return st.sampled_from(options)


@cache
def _binary(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size)


def dtypes(supports: Supports | None = None) -> st.SearchStrategy[torch.dtype]:
    """The declared dtypes (float32 first: failures shrink to it)."""
    return _choices(tuple(as_supports(supports).dtypes))


@cache
def _pair_options(lo: int, hi_h: int, hi_w: int, tuple_args: bool, square: bool = False) -> tuple:
    """``(argument as passed, (h, w))`` options: ints first, then (with tuple_args) as many
    pairs, so that about half the draws are pairs (``square``: pairs (a, a) only)."""
    ints = [(a, (a, a)) for a in range(lo, min(hi_h, hi_w) + 1)]
    if not tuple_args:
        return tuple(ints)
    pairs = [((a, b), (a, b)) for a in range(lo, hi_h + 1) for b in range(lo, hi_w + 1) if a == b or not square]
    repeat = max(1, len(pairs) // max(1, len(ints)))
    return tuple(ints * repeat + pairs)


def _int_or_pair(
    draw: Any, supports: Supports, lo: int, hi: tuple[int, int] | int, *, pairs: bool | None = None,
    square: bool = False,
) -> tuple[Any, tuple[int, int]]:
    """(the argument as passed, the pair): an int, or with ``tuple_args`` (or ``pairs``) sometimes
    a pair; ``square``: pairs (a, a) only."""
    his = (hi, hi) if isinstance(hi, int) else hi
    with_pairs = supports.tuple_args if pairs is None else pairs
    return draw(_choices(_pair_options(lo, his[0], his[1], with_pairs, square)))


#: what ``fine`` values add to quarters: multiples of 2**-30, which float32 cannot hold beside them
FINE_STEP = 2.0**-30


def bytes_to_values(
    data: bytes, *, special: bool = False, unique: bool = False, fine: bool = False, tied: bool = False
) -> np.ndarray:
    """Element values from bytes, so that a whole tensor is one Hypothesis choice (fast to draw)
    and shrinks towards zeros: byte ``b`` is ``zigzag(b) / 4`` (0, -0.25, 0.25, -0.5, ... in
    [-32, 32), exact in float32). ``special``: bytes from 224 up are -inf (even) or NaN (odd).
    ``unique``: the values' ranks instead (distinct integers from ``-n//2``, ties by position).
    ``fine``: plus ``(b % 7 + 1) * 2**-30`` (float64 values that float32 rounds away).
    ``tied``: ``b % 3 - 1`` instead, -1, 0 or 1 (windows of tied maxima; all -1 at the smallest)."""
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    if tied:
        return (raw % 3 - 1).astype(np.float64)
    values = np.where(raw % 2 == 0, raw // 2, -(raw + 1) // 2) / 4.0
    if fine:
        values = values + (raw % 7 + 1) * FINE_STEP
    if unique:
        order = np.argsort(values, kind="stable")
        ranks = np.empty_like(order)
        ranks[order] = np.arange(len(order))
        return (ranks - len(order) // 2).astype(np.float64)
    if special:
        values = np.where(raw >= 224, np.where(raw % 2 == 0, -np.inf, np.nan), values)
    return values


@cache
def _layouts(non_contiguous: bool, channels_last: bool, rank: int) -> tuple[str, ...]:
    layouts = ["contiguous"]
    if non_contiguous and rank >= 2:
        layouts += ["transposed view", "strided slice"]
    if channels_last and rank == 4:
        layouts.append("channels-last")
    return tuple(layouts)


def _draw_tensor(
    draw: Any,
    shape: tuple[int, ...],
    dtype: torch.dtype,
    supports: Supports,
    *,
    unique: bool = False,
    special: bool = False,
    fine: bool = False,
    tied: bool = False,
) -> tuple[torch.Tensor, str]:
    layouts = _layouts(supports.non_contiguous, supports.channels_last, len(shape))
    layout = draw(_choices(layouts)) if len(layouts) > 1 else "contiguous"
    base = tuple(shape)
    if layout == "transposed view":
        base = (*shape[:-2], shape[-1], shape[-2])
    elif layout == "strided slice":
        base = (*shape[:-1], 2 * shape[-1])
    count = int(np.prod(base, dtype=np.int64))
    array = bytes_to_values(draw(_binary(count)), special=special, unique=unique, fine=fine, tied=tied).reshape(base)
    tensor = torch.from_numpy(array).to(dtype)
    if layout == "transposed view":
        tensor = tensor.transpose(-1, -2)
    elif layout == "strided slice":
        tensor = tensor[..., ::2]
    elif layout == "channels-last":
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    return tensor, layout


@st.composite
def laid_out_tensors(
    draw: Any,
    shape: tuple[int, ...],
    dtype: torch.dtype = torch.float32,
    supports: Supports | None = None,
    *,
    unique: bool = False,
    special: bool = False,
    fine: bool = False,
    tied: bool = False,
) -> tuple[torch.Tensor, str]:
    """``(tensor, layout)``: a tensor of ``shape`` whose memory layout is ``contiguous``, or, as
    declared, ``transposed view`` / ``strided slice`` (non_contiguous) or ``channels-last``; values
    as :func:`bytes_to_values`."""
    return _draw_tensor(
        draw, tuple(shape), dtype, as_supports(supports), unique=unique, special=special, fine=fine, tied=tied
    )


def tensors(
    shape: tuple[int, ...],
    dtype: torch.dtype = torch.float32,
    *,
    unique: bool = False,
    special: bool = False,
    fine: bool = False,
) -> st.SearchStrategy[torch.Tensor]:
    """Contiguous tensors of ``shape``, values as :func:`bytes_to_values` (``special``: some NaN / -inf)."""
    return laid_out_tensors(shape, dtype, Supports(), unique=unique, special=special, fine=fine).map(lambda t: t[0])


@cache
def _lead_options(batched: bool, unbatched: bool, hw: bool, empty_batch: bool, channels: int | None) -> tuple:
    """Leading dims, simplest first: (1, C) for C = 1..3, then (C,), (), (2, C), (0, C), as declared."""
    cs = range(1, 4) if channels is None else (channels,)
    options: list[tuple[int, ...]] = [(1, c) for c in cs] if batched else []
    if unbatched:
        options += [(c,) for c in cs]
    if hw:
        options.append(())
    if batched:
        options += [(2, c) for c in cs]
    if batched and empty_batch:
        options += [(0, c) for c in cs]
    return tuple(options)


def _leading_dims(draw: Any, supports: Supports, *, hw: bool, channels: int | None = None) -> tuple[int, ...]:
    """The dims before (H, W) in the declared input forms: (N, C), (C,) or () (``hw``: where the
    operation takes (H, W) inputs)."""
    with_hw = hw and supports.hw_input
    options = _lead_options(supports.batched, supports.unbatched, with_hw, supports.empty_batch, channels)
    return draw(_choices(options))


def _batch(supports: Supports, *dims: int) -> tuple[int, ...]:
    """The leading dims of an error case: ``(1, *dims)``, or ``dims`` where only single images are declared."""
    return (1, *dims) if supports.batched else dims


def pool_error_kinds(supports: Supports) -> tuple[str, ...]:
    """The illegal pooling arguments a declaration can be passed: a padding over half the kernel
    (with ``padding``), a stride of zero (with ``stride='any'``)."""
    return (("padding",) if supports.padding else ()) + (("stride",) if supports.stride == "any" else ())


def window_error_kinds(supports: Supports) -> tuple[str, ...]:
    """The illegal unfold / convolution arguments a declaration can be passed: a stride of zero
    (with ``stride='any'``), a kernel larger than the padded input."""
    return (("stride",) if supports.stride == "any" else ()) + ("kernel",)


def fold_error_kinds(supports: Supports) -> tuple[str, ...]:
    """The illegal fold arguments a declaration can be passed: a stride of zero (with
    ``stride='any'``), a number of patches that does not match ``output_size``."""
    return (("stride",) if supports.stride == "any" else ()) + ("count",)


# ----------------------------------------------------------------------------------------------
# Pooling


_OMITTED = "omitted"


@cache
def _extra_options(extra: int) -> tuple[tuple[int, int], ...]:
    """How much taller and wider than the smallest legal input: (0, 0) first, then by size."""
    grid = [(h, w) for h in range(extra + 1) for w in range(extra + 1)]
    return tuple(sorted(grid, key=lambda hw: (max(hw), sum(hw), hw)))


def _extras(draw: Any, extra: int) -> tuple[int, int]:
    return draw(_choices(_extra_options(extra)))


@cache
def _stride_options(tuple_args: bool, torch_defaults: bool = True) -> tuple:
    """Pooling strides: 1 ... 5, left out (the default, kernel_size), None (with torch_defaults),
    pairs (with tuple_args)."""
    options = [value for value, _ in _pair_options(1, 5, 5, tuple_args)]
    split = options.index((1, 1)) if tuple_args else len(options)
    defaults = (_OMITTED, None) if torch_defaults else ()
    return (*options[:5], *defaults, *options[5:split], *options[split:])


def _pool_stride(supports: Supports) -> tuple:
    """The pooling strides a declaration covers (``_OMITTED``: not passed)."""
    if supports.stride == "1":
        return (1,)
    if supports.stride == "kernel":
        return (_OMITTED,)
    return _stride_options(supports.tuple_args, supports.leaves_defaults)


@st.composite
def pool_cases(
    draw: Any,
    kind: str = "max",
    supports: Supports | None = None,
    *,
    fixed: dict[str, Any] | None = None,
    padding: bool = True,
    dilation: bool = True,
    ceil_mode: bool = True,
    count_include_pad: bool = True,
    divisor: bool = True,
    dtype: torch.dtype | None = None,
    unique: bool = False,
    special: bool = False,
    fine: bool = False,
    tied: bool = False,
    extra: int = 4,
) -> PoolCase:
    """Legal pooling calls (``kind`` is ``"max"`` or ``"avg"``).

    ``padding`` / ``dilation`` / ``ceil_mode`` / ``count_include_pad`` / ``divisor``: False
    keeps that argument at its default (for properties that need it). ``unique``: all
    values distinct (no ties); ``tied``: many ties; ``fine``: float64 values float32 cannot
    hold; ``special``: some values NaN or -inf (see :func:`bytes_to_values`). ``extra``: how
    much larger than the smallest legal input the input may be.
    """
    supports = as_supports(supports)
    if fixed is not None:
        kwargs = dict(fixed)
    else:
        # cs231n's pool_height and pool_width make a pair, unless its one stride must equal the kernel
        kernel_pairs = supports.tuple_args or (supports.calling == "cs231n" and supports.stride != "kernel")
        kernel_arg, kernel = _int_or_pair(draw, supports, 1, 4, pairs=kernel_pairs, square=supports.square_kernels)
        kwargs = {"kernel_size": kernel_arg}
        stride = draw(_choices(_pool_stride(supports)))
        if stride is not _OMITTED:
            kwargs["stride"] = stride
        if supports.padding:
            kwargs["padding"] = (
                _int_or_pair(draw, supports, 0, (kernel[0] // 2, kernel[1] // 2))[0] if padding else 0
            )
        if kind == "max" and supports.dilation and dilation:
            kwargs["dilation"] = _int_or_pair(draw, supports, 1, 3)[0]
        if supports.ceil_mode and ceil_mode:
            kwargs["ceil_mode"] = draw(st.booleans())
        if kind == "avg" and supports.count_include_pad and count_include_pad:
            kwargs["count_include_pad"] = not draw(st.booleans())
        if kind == "avg" and supports.divisor_override and divisor:
            value = draw(st.one_of(st.none(), st.integers(1, 5)))
            if value is not None:
                kwargs["divisor_override"] = value
    params = PoolParams.from_kwargs(kwargs)
    low_h, low_w = params.min_input()
    more_h, more_w = _extras(draw, extra)
    height = params.grow_to_real_windows(0, low_h + more_h)
    width = params.grow_to_real_windows(1, low_w + more_w)
    shape = (*_leading_dims(draw, supports, hw=True), height, width)
    dtype = dtype or draw(dtypes(supports))
    x, layout = draw(laid_out_tensors(shape, dtype, supports, unique=unique, special=special, fine=fine, tied=tied))
    return PoolCase(x, kwargs, layout)


@st.composite
def pool_error_cases(draw: Any, kind: str = "max", supports: Supports | None = None) -> PoolCase:
    """Pooling calls torch refuses, as the declaration can be passed them (:func:`pool_error_kinds`):
    a padding over half the kernel, or a stride of zero."""
    supports = as_supports(supports)
    kernel = draw(st.integers(1, 4))
    size = kernel + draw(st.integers(0, 3))
    shape = (*_leading_dims(draw, supports, hw=True), size, size)
    x, layout = draw(laid_out_tensors(shape, draw(dtypes(supports)), Supports()))
    error = draw(st.sampled_from(pool_error_kinds(supports)))
    kwargs: dict[str, Any] = {"kernel_size": kernel}
    if error == "padding":
        bad = kernel // 2 + 1 + draw(st.integers(0, 1))
        padding = (bad, 0) if supports.tuple_args and draw(st.booleans()) else bad
        if supports.stride != "kernel":
            kwargs["stride"] = 1
        kwargs["padding"] = padding
    else:
        kwargs["stride"] = draw(st.sampled_from([0, (0, 1), (1, 0)] if supports.tuple_args else [0]))
        if supports.padding:
            kwargs["padding"] = 0
    return PoolCase(x, kwargs, layout, error=error)


# ----------------------------------------------------------------------------------------------
# Unfold and fold


def _unfold_kwargs(draw: Any, supports: Supports) -> tuple[dict[str, Any], tuple]:
    kernel_arg, kernel = _int_or_pair(draw, supports, 1, 3, square=supports.square_kernels)
    kwargs = {"kernel_size": kernel_arg}
    dil_arg, dil = _int_or_pair(draw, supports, 1, 2) if supports.dilation else (1, (1, 1))
    if supports.dilation:
        kwargs["dilation"] = dil_arg
    pad = (0, 0)
    if supports.padding:
        kwargs["padding"], pad = _int_or_pair(draw, supports, 0, 2)
    stride = _window_stride(draw, supports, kwargs, kernel_arg, kernel)
    return kwargs, (kernel, dil, pad, stride)


def _window_stride(
    draw: Any, supports: Supports, kwargs: dict[str, Any], kernel_arg: Any, kernel: tuple[int, int]
) -> tuple[int, int]:
    """Draw the stride of an unfold, fold or convolution into ``kwargs`` (left out at 1, torch's
    default, with ``stride='1'``); return it as a pair."""
    if supports.stride == "1":
        return (1, 1)
    if supports.stride == "kernel":
        kwargs["stride"] = kernel_arg
        return kernel
    kwargs["stride"], stride = _int_or_pair(draw, supports, 1, 3)
    return stride


def _fixed_unfold(fixed: dict[str, Any]) -> tuple:
    return (
        pair(fixed["kernel_size"]),
        pair(fixed.get("dilation", 1)),
        pair(fixed.get("padding", 0)),
        pair(fixed.get("stride", 1)),
    )


@st.composite
def unfold_cases(
    draw: Any,
    supports: Supports | None = None,
    *,
    fixed: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
    fine: bool = False,
    extra: int = 3,
) -> UnfoldCase:
    """Legal ``unfold(x, kernel_size, dilation=, padding=, stride=)`` calls (any padding; ``fine``:
    float64 values float32 cannot hold)."""
    supports = as_supports(supports)
    if fixed is not None:
        kwargs, (kernel, dil, pad, _) = dict(fixed), _fixed_unfold(fixed)
    else:
        kwargs, (kernel, dil, pad, _) = _unfold_kwargs(draw, supports)
    low = [max(1, dil[i] * (kernel[i] - 1) + 1 - 2 * pad[i]) for i in range(2)]
    shape = (
        *_leading_dims(draw, supports, hw=False),
        *(low[i] + more for i, more in enumerate(_extras(draw, extra))),
    )
    x, layout = draw(laid_out_tensors(shape, dtype or draw(dtypes(supports)), supports, fine=fine))
    return UnfoldCase(x, kwargs, layout)


@st.composite
def unfold_error_cases(draw: Any, supports: Supports | None = None) -> UnfoldCase:
    """``unfold`` calls torch refuses, as the declaration can be passed them
    (:func:`window_error_kinds`): a stride of zero, a kernel larger than the padded input."""
    supports = as_supports(supports)
    kernel = draw(st.integers(2, 4))
    error = draw(st.sampled_from(window_error_kinds(supports)))
    size = kernel + draw(st.integers(0, 2)) if error == "stride" else draw(st.integers(1, kernel - 1))
    x, layout = draw(laid_out_tensors(_batch(supports, draw(st.integers(1, 2)), size, size), draw(dtypes(supports))))
    return UnfoldCase(x, _error_kwargs(supports, error, kernel, {"kernel_size": kernel}), layout, error=error)


def _error_kwargs(supports: Supports, error: str, kernel: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the padding (0) and stride of an unfold, fold or convolution error case, as
    the declaration passes them: a stride of 0 for a ``stride`` error, else 1 (or the kernel size)."""
    if supports.padding:
        kwargs["padding"] = 0
    if error == "stride":
        kwargs["stride"] = 0
    elif supports.stride != "1":
        kwargs["stride"] = kernel if supports.stride == "kernel" else 1
    return kwargs


@st.composite
def fold_cases(
    draw: Any,
    supports: Supports | None = None,
    *,
    fixed: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
    fine: bool = False,
    extra: int = 3,
) -> FoldCase:
    """Legal ``fold(patches, output_size, kernel_size, dilation=, padding=, stride=)`` calls, with
    an image whose torch unfold is ``patches`` (so the values of ``patches`` are arbitrary, and
    ``fold(unfold(image))`` can be checked)."""
    supports = as_supports(supports)
    if fixed is not None:
        base = {k: v for k, v in fixed.items() if k != "output_size"}
        kwargs, (kernel, dil, pad, _) = base, _fixed_unfold(fixed)
        height, width = pair(fixed["output_size"])
    else:
        kwargs, (kernel, dil, pad, _) = _unfold_kwargs(draw, supports)
        low = [max(1, dil[i] * (kernel[i] - 1) + 1 - 2 * pad[i]) for i in range(2)]
        height, width = (low[i] + more for i, more in enumerate(_extras(draw, extra)))
    dtype = dtype or draw(dtypes(supports))
    lead = _leading_dims(draw, supports, hw=False)
    image, _ = draw(laid_out_tensors((*lead, height, width), dtype, fine=fine))
    patches = torch.nn.functional.unfold(image, **kwargs)
    if draw(st.booleans()):  # arbitrary columns, not only those of an image
        patches, layout = draw(laid_out_tensors(tuple(patches.shape), dtype, supports, fine=fine))
    else:
        layout = "contiguous"
    size_arg = (
        (height, width) if not (supports.tuple_args and height == width and draw(st.booleans())) else height
    )
    if fixed is not None:
        size_arg = fixed["output_size"]
    return FoldCase(patches, {"output_size": size_arg, **kwargs}, image, layout)


@st.composite
def fold_error_cases(draw: Any, supports: Supports | None = None) -> FoldCase:
    """``fold`` calls torch refuses, as the declaration can be passed them (:func:`fold_error_kinds`):
    a stride of zero, or a number of patches that does not match."""
    supports = as_supports(supports)
    kernel = draw(st.integers(1, 3))
    size = kernel + draw(st.integers(0, 2))
    c = draw(st.integers(1, 2))
    error = draw(st.sampled_from(fold_error_kinds(supports)))
    step = kernel if supports.stride == "kernel" else 1
    blocks = ((size - kernel) // step + 1) ** 2 + (1 if error == "count" else 0)
    patches, _ = draw(laid_out_tensors(_batch(supports, c * kernel * kernel, blocks), draw(dtypes(supports))))
    kwargs = _error_kwargs(supports, error, kernel, {"output_size": (size, size), "kernel_size": kernel})
    return FoldCase(patches, kwargs, error=error)


# ----------------------------------------------------------------------------------------------
# Convolution


@st.composite
def conv_cases(
    draw: Any,
    supports: Supports | None = None,
    *,
    fixed: dict[str, Any] | None = None,
    bias: bool | None = None,
    dtype: torch.dtype | None = None,
    fine: bool = False,
    extra: int = 3,
) -> ConvCase:
    """Legal ``conv2d(x, weight, bias, stride=, padding=[, dilation=, groups=])`` calls.

    ``fixed`` (a module instance's): ``in_channels``, ``out_channels``, ``kernel_size``,
    ``stride``, ``padding``, ``dilation``, ``groups``, ``bias`` (bool). ``bias``: force a
    bias (True) or none (False); by default either. The kernel is the weight's shape: not
    square unless declared (``square_kernels``), whether arguments are pairs or not. ``fine``:
    float64 values float32 cannot hold.
    """
    supports = as_supports(supports)
    if fixed is not None:
        groups = fixed.get("groups", 1)
        in_channels, out_channels = fixed["in_channels"], fixed["out_channels"]
        kernel, dil = pair(fixed["kernel_size"]), pair(fixed.get("dilation", 1))
        pad_arg = fixed["padding"]
        kwargs = {"stride": fixed["stride"], "padding": pad_arg}
        if "dilation" in fixed:
            kwargs["dilation"] = fixed["dilation"]
        if "groups" in fixed:
            kwargs["groups"] = groups
        has_bias = fixed.get("bias", True)
    else:
        groups = draw(st.integers(1, 3)) if supports.groups else 1
        in_channels = groups * draw(st.integers(1, 2 if groups > 1 else 3))
        out_channels = groups * draw(st.integers(1, 2 if groups > 1 else 3))
        # a pair kernel needs no pair argument (it is the weight's shape), except as a stride = kernel
        pairs = supports.tuple_args or supports.stride != "kernel"
        kernel_arg, kernel = _int_or_pair(draw, supports, 1, 3, pairs=pairs, square=supports.square_kernels)
        kwargs: dict[str, Any] = {}
        _window_stride(draw, supports, kwargs, kernel_arg, kernel)
        dil_arg, dil = _int_or_pair(draw, supports, 1, 2) if supports.dilation else (1, (1, 1))
        pad_forms = ["int"] + (["same", "valid"] if supports.same_padding else [])
        form = draw(st.sampled_from(pad_forms))
        if form == "same":
            pad_arg = "same"
            kwargs["stride"] = 1  # torch refuses 'same' with strides
        elif form == "valid":
            pad_arg = "valid"
        else:
            pad_arg = _int_or_pair(draw, supports, 0, 2)[0] if supports.padding else 0
        if supports.padding or form != "int":
            kwargs["padding"] = pad_arg
        if supports.dilation:
            kwargs["dilation"] = dil_arg
        if supports.groups:
            kwargs["groups"] = groups
        has_bias = draw(st.booleans()) if bias is None else bias
    if pad_arg == "same":
        low = [1, 1]
    else:
        pad = (0, 0) if pad_arg == "valid" else pair(pad_arg)
        low = [max(1, dil[i] * (kernel[i] - 1) + 1 - 2 * pad[i]) for i in range(2)]
    lead = _leading_dims(draw, supports, hw=False, channels=in_channels)
    shape = (*lead, *(low[i] + more for i, more in enumerate(_extras(draw, extra))))
    dtype = dtype or draw(dtypes(supports))
    x, layout = draw(laid_out_tensors(shape, dtype, supports, fine=fine))
    weight, _ = draw(laid_out_tensors((out_channels, in_channels // groups, *kernel), dtype, fine=fine))
    bias_t = draw(laid_out_tensors((out_channels,), dtype, fine=fine))[0] if has_bias else None
    return ConvCase(x, weight, bias_t, kwargs, layout)


@st.composite
def conv_error_cases(draw: Any, supports: Supports | None = None) -> ConvCase:
    """Convolutions torch refuses, as the declaration can be passed them (:func:`window_error_kinds`):
    a stride of zero, or a kernel larger than the padded input."""
    supports = as_supports(supports)
    kernel = draw(st.integers(2, 3))
    error = draw(st.sampled_from(window_error_kinds(supports)))
    size = kernel + draw(st.integers(0, 2)) if error == "stride" else draw(st.integers(1, kernel - 1))
    dtype = draw(dtypes(supports))
    x, _ = draw(laid_out_tensors(_batch(supports, 1, size, size), dtype))
    weight, _ = draw(laid_out_tensors((1, 1, kernel, kernel), dtype))
    kwargs = _error_kwargs(supports, error, kernel, {})
    return ConvCase(x, weight, None, {k: kwargs[k] for k in ("stride", "padding") if k in kwargs}, error=error)


# ----------------------------------------------------------------------------------------------
# Arithmetic cases


@st.composite
def conv_output_size_cases(draw: Any, supports: Supports | None = None) -> SizeCase:
    """``(size, kernel_size, stride=, padding=, dilation=)`` with an output of at least 1; ints,
    or (with ``tuple_args``) pairs for some of the arguments."""
    supports = as_supports(supports)
    use_pairs = supports.tuple_args and draw(st.booleans())
    dims = 2 if use_pairs else 1
    columns = []
    for _ in range(dims):
        kernel = draw(st.integers(1, 7))
        stride = draw(st.integers(1, 4))
        padding = draw(st.integers(0, 3))
        dilation = draw(st.integers(1, 3))
        low = max(1, dilation * (kernel - 1) + 1 - 2 * padding)
        size = low + draw(st.integers(0, 40))
        columns.append((size, kernel, stride, padding, dilation))
    if dims == 1:
        values = columns[0]
    else:
        values = tuple(
            (a, b) if a != b or draw(st.booleans()) else a
            for a, b in zip(columns[0], columns[1], strict=True)
        )
        if all(isinstance(v, int) for v in values):  # at least one pair
            values = ((values[0], values[0]), *values[1:])
    size, kernel, stride, padding, dilation = values
    kwargs = {}
    if stride != 1:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    if dilation != 1:
        kwargs["dilation"] = dilation
    return SizeCase((size, kernel), kwargs)
