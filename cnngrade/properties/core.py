"""Shared machinery of :mod:`cnngrade.properties`.

* :class:`Supports`: what an implementation declares it supports beyond the lab's default;
* :class:`PropertyFailed`: the ``AssertionError`` every check raises, with the property's name,
  what was expected, what was seen and the (shrunk) counterexample;
* formatting of tensors, shapes and calls for messages a student reads;
* comparison with dtype-aware tolerances;
* :class:`CheckContext`: one check of one implementation, how to call it and word its failures;
  each suite subclasses it, and the properties every suite shares are written against it;
* the runner: one Hypothesis run per property, settings from :mod:`cnngrade.properties.profiles`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, Protocol, TypeVar

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
        from cnngrade.submission.errors import LoadError, MissingPart, NotImplementedYet
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


# ----------------------------------------------------------------------------------------------
# One check of one implementation


class Case(Protocol):
    """What the shared machinery needs of a suite's case (a dataclass): the call's keyword arguments."""

    @property
    def kwargs(self) -> dict[str, Any]: ...


CaseT = TypeVar("CaseT", bound=Case)
ContextT = TypeVar("ContextT", bound="CheckContext[Any]")


@dataclass
class CheckContext(ABC, Generic[CaseT]):
    """One check of one implementation: how to call it, how to word its failures, what torch gives.

    Each suite (:mod:`.pooling`, :mod:`.convolution`) subclasses it for its cases, whose tensor
    fields are named as the implementation's arguments (:meth:`arguments`). The properties the
    suites share (:func:`shape_property`, :func:`no_mutation_property`, :func:`gradient_property`,
    :func:`errors_property`) and :func:`run_check` use only this interface.
    """

    kind: str
    fn: Any
    mode: str  # "function", "class" or "instance"
    name: str
    supports: Supports
    fixed: dict[str, Any] | None
    prop: str = ""

    #: how no_mutation's failures name an argument ("its argument weight") and the rule they end with
    argument_word: ClassVar[str] = "argument"
    must_not_modify: ClassVar[str] = "it must not modify its arguments"

    @classmethod
    def of(cls: type[ContextT], kind: str, fn: Any, supports: Supports | str | Iterable[str] | None) -> ContextT:
        """The context for checking ``fn`` (a function, an ``nn.Module`` instance, whose arguments
        are then fixed by its attributes, or an ``nn.Module`` class) as a ``kind``."""
        mode = adapt_kind(fn)
        fixed = None
        if mode == "instance":
            if not hasattr(fn, "kernel_size"):
                raise TypeError(
                    f"cannot check the layer {callable_name(fn)}: it has no kernel_size attribute to read "
                    "its arguments from (pass a function or the layer's class instead)"
                )
            fixed = cls.fixed_arguments(kind, fn)
        return cls(kind, fn, mode, callable_name(fn), as_supports(supports), fixed)

    # -- what each suite defines ----------------------------------------------------------------

    @classmethod
    @abstractmethod
    def fixed_arguments(cls, kind: str, layer: torch.nn.Module) -> dict[str, Any]:
        """The arguments a layer instance fixes, read from its attributes."""

    @property
    @abstractmethod
    def torch_name(self) -> str:
        """The torch function the implementation must agree with, for messages."""

    @abstractmethod
    def arguments(self, case: CaseT) -> dict[str, torch.Tensor | None]:
        """The tensors ``case`` passes, by argument name (also the names of ``case``'s fields)."""

    @abstractmethod
    def invoke(self, case: CaseT) -> Any:
        """Call the implementation on ``case``'s tensors themselves (no copies)."""

    @abstractmethod
    def describe(self, case: CaseT) -> str:
        """The call, as messages show it: ``max_pool2d(x, kernel_size=2)``."""

    @abstractmethod
    def subject(self, case: CaseT) -> str:
        """What it was called on: ``a (1, 1, 3, 3) float32 tensor``."""

    @abstractmethod
    def expected_shape(self, case: CaseT) -> tuple[tuple[int, ...], str]:
        """The output shape the implementation must return, and its formula in words."""

    @abstractmethod
    def reference(self, case: CaseT, **tensors: torch.Tensor) -> torch.Tensor:
        """torch's output for ``case``, with some of its tensors replaced by ``tensors``."""

    @abstractmethod
    def gradient_tolerance(
        self, case: CaseT, expected: torch.Tensor, reference: torch.Tensor
    ) -> tuple[torch.Tensor, int]:
        """``(bound, terms)`` for :func:`mismatch` when comparing a gradient with torch's
        ``expected`` one (``reference``: torch's output)."""

    @abstractmethod
    def error_reason(self, case: CaseT) -> str:
        """Why torch refuses the arguments of an error case, for messages."""

    # -- calling and failing --------------------------------------------------------------------

    def tensors(self, case: CaseT) -> dict[str, torch.Tensor]:
        """:meth:`arguments` without the ``None`` ones."""
        return {k: v for k, v in self.arguments(case).items() if v is not None}

    def fail(
        self,
        case: CaseT,
        problem: str,
        *,
        expected: Any = None,
        seen: Any = None,
        inputs: dict[str, Any] | None = None,
    ) -> PropertyFailed:
        """The failure of the current property on ``case``, showing its tensors and ``inputs``."""
        call = self.describe(case)
        shown = {**self.arguments(case), **(inputs or {})}
        listing = ", ".join(f"{k} = {format_value(v)}" for k, v in shown.items())
        message = (
            f"{call} on {self.subject(case)}: {problem.rstrip('.')}. Smallest failing input: "
            f"{listing}. (property: {self.prop})"
        )
        return PropertyFailed(
            message,
            property=self.prop,
            expected=expected,
            seen=seen,
            counterexample={**shown, **case.kwargs},
            function=call,
        )

    def call(self, case: CaseT, *, on: str = "") -> torch.Tensor:
        """The implementation's output on copies of ``case``'s tensors (see :func:`fresh`), which
        must be a tensor; ``on`` starts the problem's wording (``"on y: "``)."""
        try:
            out = self.invoke(replace(case, **{k: fresh(v) for k, v in self.arguments(case).items()}))
        except Exception as exc:
            if reraised(exc):
                raise
            raise self.fail(case, f"{on}raised {exception_text(exc)}", expected="a tensor", seen=exc) from exc
        if not isinstance(out, torch.Tensor):
            raise self.fail(
                case,
                f"{on}should return a tensor but returned {describe_result(out)}",
                expected="a tensor",
                seen=out,
            )
        return out

    def check_shape(self, case: CaseT, out: torch.Tensor, *, on: str = "") -> None:
        """Fail unless ``out`` has the expected shape."""
        expected, formula = self.expected_shape(case)
        if tuple(out.shape) != expected:
            raise self.fail(
                case,
                f"{on}output shape should be {format_shape(expected)} ({formula}) but was "
                f"{format_shape(out.shape)}",
                expected=expected,
                seen=tuple(out.shape),
            )

    def call_shaped(self, case: CaseT, *, on: str = "") -> torch.Tensor:
        """:meth:`call`, and the output must have the expected shape."""
        out = self.call(case, on=on)
        self.check_shape(case, out, on=on)
        return out

    def compare(
        self,
        case: CaseT,
        seen: torch.Tensor,
        expected: torch.Tensor,
        *,
        what: str,
        exact: bool = False,
        bound: torch.Tensor | None = None,
        terms: int = 1,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        """Fail unless ``seen`` has ``expected``'s shape and dtype and equals it (see :func:`mismatch`);
        ``what`` says what should hold."""
        if tuple(seen.shape) != tuple(expected.shape):
            raise self.fail(
                case,
                f"{what}: the output shape should be {format_shape(expected.shape)} but was "
                f"{format_shape(seen.shape)}",
                expected=tuple(expected.shape),
                seen=tuple(seen.shape),
                inputs=inputs,
            )
        if seen.dtype != expected.dtype:
            raise self.fail(
                case,
                f"the output dtype should be {expected.dtype} (the input's) but was {seen.dtype}",
                expected=expected.dtype,
                seen=seen.dtype,
                inputs=inputs,
            )
        bad = mismatch(seen, expected, exact=exact, bound=bound, terms=terms)
        if bool(bad.any()):
            raise self.fail(
                case,
                f"{what}, but it {describe_mismatch(seen, expected, bad)}",
                expected=expected.detach(),
                seen=seen.detach(),
                inputs=inputs,
            )


# ----------------------------------------------------------------------------------------------
# Properties every tensor suite has


def upstream(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Distinct weights to backpropagate: 1 ... 2 over the output."""
    count = int(torch.Size(shape).numel())
    return torch.linspace(1, 2, count, dtype=dtype).reshape(shape)


def shape_property(ctx: CheckContext[Any], case: Case) -> None:
    """``shape``: the output has the shape the arithmetic gives."""
    ctx.call_shaped(case)


def no_mutation_property(ctx: CheckContext[Any], case: Case) -> None:
    """``no_mutation``: the implementation, given the original tensors, leaves them unchanged."""
    tensors = ctx.tensors(case)
    before = {k: v.clone() for k, v in tensors.items()}
    shown = replace(case, **before)
    try:
        ctx.invoke(case)  # the original tensors, not copies
    except Exception as exc:
        if reraised(exc):
            raise
        raise ctx.fail(shown, f"raised {exception_text(exc)}", seen=exc) from exc
    for name, tensor in tensors.items():
        old = before[name]
        if tensor.shape != old.shape:
            raise ctx.fail(
                shown,
                f"it changed the shape of its {ctx.argument_word} {name} from {format_shape(old.shape)} to "
                f"{format_shape(tensor.shape)}; {ctx.must_not_modify}",
                expected=tuple(old.shape),
                seen=tuple(tensor.shape),
            )
        changed = mismatch(tensor, old, exact=True)
        if bool(changed.any()):
            where = first_index(changed)
            raise ctx.fail(
                shown,
                f"it modified its {ctx.argument_word} {name} ({int(changed.sum())} of {changed.numel()} "
                f"values changed, e.g. {name}{list(where)} was {format_scalar(old[where])} and is "
                f"now {format_scalar(tensor[where])}); {ctx.must_not_modify}",
                expected=old,
                seen=tensor.clone(),
            )


def gradient_property(ctx: CheckContext[Any], case: Case) -> None:
    """``gradient``: the gradients with respect to every input tensor equal torch's (for the loss
    ``sum(w * output)``). An output that carries no gradient (code written without autograd) is
    not compared."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in ctx.tensors(case).items()}
    out = ctx.call(replace(case, **leaves))
    if not out.requires_grad:
        return  # not differentiable (e.g. computed without autograd): nothing to compare
    ctx.check_shape(case, out)
    weights = upstream(tuple(out.shape), out.dtype)
    names = list(leaves)
    try:
        grads = torch.autograd.grad(out, [leaves[n] for n in names], weights, allow_unused=True)
    except Exception as exc:
        if reraised(exc):
            raise
        raise ctx.fail(
            case, f"backpropagating through the output raised {exception_text(exc)}", seen=exc
        ) from exc
    ref_leaves = {k: v.detach().clone().requires_grad_(True) for k, v in ctx.tensors(case).items()}
    ref_out = ctx.reference(case, **ref_leaves)
    ref_grads = torch.autograd.grad(ref_out, [ref_leaves[n] for n in names], weights.to(ref_out.dtype))
    for name, grad, expected in zip(names, grads, ref_grads, strict=True):
        grad = torch.zeros_like(expected) if grad is None else grad
        bound, terms = ctx.gradient_tolerance(case, expected, ref_out)
        bad = mismatch(grad, expected, bound=bound, terms=terms)
        if bool(bad.any()):
            raise ctx.fail(
                case,
                f"the gradient with respect to {name} should equal torch's (for the loss "
                f"sum(w * output), weights w from 1 to 2), but it {describe_mismatch(grad, expected, bad)}",
                expected=expected,
                seen=grad,
            )


def errors_property(ctx: CheckContext[Any], case: Case) -> None:
    """``errors``: arguments torch refuses make the implementation raise ValueError or RuntimeError."""
    reason = ctx.error_reason(case)
    try:
        out = ctx.invoke(case)
    except Exception as exc:
        if reraised(exc):
            raise
        if isinstance(exc, ValueError | RuntimeError):
            return
        raise ctx.fail(
            case,
            f"it should raise a ValueError or RuntimeError ({reason}) but raised {exception_text(exc)}",
            expected="ValueError or RuntimeError",
            seen=exc,
        ) from exc
    raise ctx.fail(
        case,
        f"it should raise an error ({reason}) but returned {describe_result(out)}",
        expected="ValueError or RuntimeError",
        seen=out,
    )


# ----------------------------------------------------------------------------------------------
# Running a check


def run_check(
    ctx: CheckContext[Any],
    catalogue: Catalogue,
    only: str | Iterable[str] | None,
    skip: str | Iterable[str],
    max_examples: int | None,
    profile: str | None,
) -> tuple[str, ...]:
    """Run the selected properties of ``catalogue`` (see :func:`select`) on ``ctx``'s implementation,
    one Hypothesis run each, in order; return their names. The first that fails raises
    :class:`PropertyFailed`."""
    chosen = select(catalogue, ctx.supports, ctx.fixed, only, skip)
    for prop in chosen:
        ctx.prop = prop.name
        key = f"cnngrade.properties:{catalogue.check}:{prop.name}:{ctx.name}"
        run_property(
            key,
            prop.strategy(ctx),
            lambda *args, p=prop: p.body(ctx, *args),
            max_examples=max_examples,
            profile=profile,
        )
    return tuple(p.name for p in chosen)


def expose(
    check: Callable[..., tuple[str, ...]], catalogue: Catalogue, context: type[CheckContext[Any]], kind: str
) -> None:
    """Give the public ``check`` what :func:`cnngrade.properties.property_names` reads: its
    ``catalogue``, and ``context(fn, supports=None)``, the context it builds for an implementation."""
    check.catalogue = catalogue  # type: ignore[attr-defined]
    check.context = lambda fn, supports=None: context.of(kind, fn, supports)  # type: ignore[attr-defined]

