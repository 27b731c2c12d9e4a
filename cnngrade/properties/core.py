"""Shared machinery of :mod:`cnngrade.properties`.

* :class:`Supports`: what an implementation declares it supports beyond the lab's default;
* :class:`PropertyFailed`: the ``AssertionError`` every check raises, with the property's name,
  what was expected, what was seen and the (shrunk) counterexample;
* formatting of tensors, shapes and calls for messages a student reads;
* comparison with dtype-aware tolerances;
* the runner: one Hypothesis run per property, settings from :mod:`cnngrade.properties.profiles`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from cnngrade.properties.profiles import active_settings

# ----------------------------------------------------------------------------------------------
# What an implementation supports


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


def as_supports(value: Supports | str | Iterable[str] | None) -> Supports:
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


# ----------------------------------------------------------------------------------------------
# The failure


class PropertyFailed(AssertionError):
    """A property of the implementation does not hold.

    Attributes: ``property`` (its name, e.g. ``"shape"``), ``expected`` and ``seen`` (values or
    short descriptions), ``counterexample`` (a dict of the smallest failing inputs, as Hypothesis
    shrank them) and ``function`` (how the implementation was called). ``str()`` is the message.
    """

    def __init__(
        self,
        message: str,
        *,
        property: str,
        expected: Any = None,
        seen: Any = None,
        counterexample: dict[str, Any] | None = None,
        function: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.property = property
        self.expected = expected
        self.seen = seen
        self.counterexample = counterexample or {}
        self.function = function

    def __str__(self) -> str:
        return self.message


# ----------------------------------------------------------------------------------------------
# Formatting


def format_shape(shape: Sequence[int]) -> str:
    """``(1, 1, 3, 3)``, ``(5,)``."""
    shape = tuple(int(s) for s in shape)
    return f"({shape[0]},)" if len(shape) == 1 else str(shape)


def _format_number(value: Any, dtype: torch.dtype) -> str:
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
        return _format_number(item, t.dtype)

    body = render(t.tolist())
    if len(body) > limit:
        body = body[:limit].rsplit(",", 1)[0] + ", ... (cut; shape " + format_shape(t.shape) + ")"
    return f"tensor({body}{suffix})"


def format_scalar(element: torch.Tensor) -> str:
    """One element of a tensor, as in :func:`format_tensor`: ``5.``, ``-inf``, ``0.1``."""
    return _format_number(element.detach().reshape(()).item(), element.dtype)


def format_value(value: Any) -> str:
    """Tensors as :func:`format_tensor`, everything else as ``repr``."""
    if isinstance(value, torch.Tensor):
        return format_tensor(value)
    return repr(value)


def describe_tensor(tensor: torch.Tensor, layout: str = "contiguous") -> str:
    """``a (1, 1, 3, 3) float32 tensor`` (with its layout when it is not plain contiguous)."""
    kind = str(tensor.dtype).removeprefix("torch.")
    where = "" if layout == "contiguous" else f"{layout} "
    return f"a {where}{format_shape(tensor.shape)} {kind} tensor"


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


def first_index(mask: torch.Tensor) -> tuple[int, ...]:
    """The index of the first ``True`` of ``mask`` (row-major)."""
    flat = int(mask.reshape(-1).nonzero()[0, 0])
    return tuple(int(i) for i in np.unravel_index(flat, tuple(mask.shape)))


# ----------------------------------------------------------------------------------------------
# Comparison

#: assert_close's default (rtol, atol) per dtype
DEFAULT_TOLERANCES = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
}


def mismatch(
    seen: torch.Tensor,
    expected: torch.Tensor,
    *,
    exact: bool = False,
    bound: torch.Tensor | None = None,
    terms: int = 1,
) -> torch.Tensor:
    """Boolean mask of the positions where ``seen`` differs from ``expected``.

    ``exact``: equal values (NaN equals NaN). Otherwise ``torch.testing.assert_close``'s
    tolerances for the dtype, widened by the rounding a sum of ``terms`` products can
    accumulate: ``|seen - expected| <= atol + rtol*|expected| + 2*terms*eps*bound``, where
    ``bound`` is a bound on the magnitudes summed (e.g. the result computed on ``|x|``).
    """
    seen = seen.detach()
    expected = expected.detach().to(seen.dtype) if seen.is_floating_point() else expected.detach()
    same = seen == expected
    if seen.is_floating_point():
        same = same | (torch.isnan(seen) & torch.isnan(expected))
    if exact or not seen.is_floating_point():
        return ~same
    rtol, atol = DEFAULT_TOLERANCES.get(seen.dtype, (1e-7, 1e-7))
    finite = torch.isfinite(expected)
    allowed = atol + rtol * torch.where(finite, expected.abs(), torch.zeros_like(expected))
    if bound is not None:
        bound = torch.nan_to_num(bound.detach().to(seen.dtype).abs(), nan=0.0, posinf=0.0, neginf=0.0)
        allowed = allowed + 2 * terms * torch.finfo(seen.dtype).eps * bound
    close = finite & ((seen - expected).abs() <= allowed)
    return ~(same | close)


def describe_mismatch(seen: torch.Tensor, expected: torch.Tensor, bad: torch.Tensor) -> str:
    """``differs at 2 of 4 positions, first at index (0, 0, 1, 0): expected 5. but got 4.``"""
    where = first_index(bad)
    dtype = seen.dtype
    e = _format_number(expected.detach()[where].item(), dtype)
    s = _format_number(seen.detach()[where].item(), dtype)
    text = (
        f"differs at {int(bad.sum())} of {bad.numel()} positions, first at index "
        f"{format_shape(where)}: expected {e} but got {s}"
    )
    if expected.numel() <= 36:
        text += f" (expected {format_tensor(expected)}, got {format_tensor(seen)})"
    return text


# ----------------------------------------------------------------------------------------------
# Calling the implementation


def reraised(exc: BaseException) -> bool:
    """Exceptions that are not a property failing: a blank template, a missing part."""
    if isinstance(exc, NotImplementedError | PropertyFailed):
        return True
    try:
        from cnngrade.errors import LoadError, MissingPart, NotImplementedYet
    except ImportError:  # pragma: no cover - cnngrade.properties used on its own
        return False
    return isinstance(exc, LoadError | MissingPart | NotImplementedYet)


def fresh(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """A copy of ``tensor`` with the same strides (layout), for the implementation to receive, so
    that an implementation modifying its argument cannot corrupt the checks' own references
    (only the ``no_mutation`` property hands over the original). Tensors that require grad are
    passed as they are."""
    if tensor is None or tensor.requires_grad:
        return tensor
    copy = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype, device=tensor.device)
    return copy.copy_(tensor)


def exception_text(exc: BaseException) -> str:
    """``ValueError: bad shape`` (first line of the message only)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def adapt_kind(fn: Any) -> str:
    """``"class"`` for an ``nn.Module`` subclass, ``"instance"`` for a module, else ``"function"``."""
    if isinstance(fn, type) and issubclass(fn, torch.nn.Module):
        return "class"
    if isinstance(fn, torch.nn.Module):
        return "instance"
    if callable(fn):
        return "function"
    raise TypeError(f"expected a function, an nn.Module or an nn.Module class, got {type(fn).__name__}")


def callable_name(fn: Any) -> str:
    """The name used in messages: ``max_pool2d``, ``MaxPool2d``, or the module's repr."""
    kind = adapt_kind(fn)
    if kind == "instance":
        return repr(fn).splitlines()[0]
    return getattr(fn, "__name__", None) or type(fn).__name__


# ----------------------------------------------------------------------------------------------
# Properties and the runner


@dataclass(frozen=True)
class Property:
    """One property: ``strategy(ctx)`` draws a tuple of arguments, ``body(ctx, *args)`` checks them.

    ``axis``: the Supports axis the property needs (None: always). ``varies_args``: the property
    chooses the call's arguments itself, so it does not apply to a module instance, whose
    arguments are fixed. ``applies``: a further test on the instance's fixed arguments.
    """

    name: str
    summary: str
    strategy: Callable[[Any], st.SearchStrategy]
    body: Callable[..., None]
    axis: str | None = None
    varies_args: bool = False
    applies: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class Catalogue:
    """The ordered properties of one check, and how it adapts the implementation."""

    check: str
    properties: list[Property] = field(default_factory=list)

    def add(self, prop: Property) -> None:
        self.properties.append(prop)

    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)

    def applicable(self, supports: Supports, fixed: dict[str, Any] | None) -> list[Property]:
        out = []
        for p in self.properties:
            if p.axis is not None and not getattr(supports, p.axis):
                continue
            if fixed is not None and (p.varies_args or (p.applies is not None and not p.applies(fixed))):
                continue
            out.append(p)
        return out


def select(
    catalogue: Catalogue,
    supports: Supports,
    fixed: dict[str, Any] | None,
    only: str | Iterable[str] | None,
    skip: str | Iterable[str],
) -> list[Property]:
    """The properties to run, in catalogue order; ``only`` names must exist and apply."""
    known = set(catalogue.names())
    skip_set = {skip} if isinstance(skip, str) else set(skip)
    only_set = None if only is None else ({only} if isinstance(only, str) else set(only))
    for name in (only_set or set()) | skip_set:
        if name not in known:
            raise ValueError(
                f"{catalogue.check} has no property {name!r}; its properties are "
                f"{', '.join(catalogue.names())}"
            )
    chosen = catalogue.applicable(supports, fixed)
    if only_set is not None:
        inapplicable = only_set - {p.name for p in chosen}
        if inapplicable:
            raise ValueError(
                f"{catalogue.check}: property {', '.join(sorted(inapplicable))} does not "
                "apply to this implementation with these supports (see property_names)"
            )
        chosen = [p for p in chosen if p.name in only_set]
    return [p for p in chosen if p.name not in skip_set]


def run_property(
    key: str,
    strategy: st.SearchStrategy,
    body: Callable[..., None],
    *,
    max_examples: int | None,
    profile: str | None,
) -> None:
    """Run ``body`` on examples of ``strategy`` under Hypothesis; the shrunk failure propagates."""

    def property_test(args: tuple) -> None:
        body(*args)

    # distinguishes the database entries (and the derandomized seeds) of different checks
    property_test._hypothesis_internal_add_digest = key.encode()  # type: ignore[attr-defined]
    test = active_settings(profile, max_examples)(given(args=strategy)(property_test))
    with single_threaded(), warnings.catch_warnings():
        # torch's own notice when F.conv2d pads 'same' with an even kernel; not the user's doing
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        test()


@contextmanager
def single_threaded() -> Iterator[None]:
    """torch on one intra-op thread meanwhile: the checks' tensors are tiny, and waking worker
    threads costs far more than the work (milliseconds per call on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    if threads != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)
