"""Property checks for the arithmetic of convolution layers: plain functions of ints.

========================  ==============================================  ===============
check                     the implementation must compute                 property
========================  ==============================================  ===============
check_conv_output_size    ``conv_output_size(size, kernel_size, stride=1,  formula
                          padding=0, dilation=1)``
                          = floor((size + 2p - d*(k - 1) - 1)/s) + 1
check_conv2d_param_count  ``conv2d_param_count(in_channels, out_channels,  matches_torch
                          kernel_size, bias=True)``
                          = out*in*kh*kw + (out if bias else 0),
                          the parameters of ``nn.Conv2d``
check_linear_param_count  ``linear_param_count(in_features, out_features,  matches_torch
                          bias=True)``
                          = in*out + (out if bias else 0),
                          the parameters of ``nn.Linear``
========================  ==============================================  ===============

``conv_output_size`` must return an int (``//``, not ``/``) for int arguments and, with
``tuple_args`` (the default), the pair of both dimensions' sizes when any argument is a pair;
the parameter counts accept an int or (with ``tuple_args``) a pair ``kernel_size``. A failure
shows the call and what it should have returned::

    linear_param_count(1, 1): should be 2, the number of parameters of torch.nn.Linear(1, 1)
    (in_features*out_features + out_features), but was 1. (property: matches_torch)

These checks run on :func:`~cnngrade.properties.running.run_table` like the tensor suites, with
an :class:`ArithmeticContext` in place of a tensor suite's context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from hypothesis import strategies as st

from cnngrade.properties.calling import callable_name, exception_text, reraised
from cnngrade.properties.catalogue import Catalogue, Names, Property
from cnngrade.properties.context import Tally
from cnngrade.properties.failure import PropertyFailed, UsageError
from cnngrade.properties.formatting import describe_result
from cnngrade.properties.running import expose
from cnngrade.properties.strategies import SizeCase, conv_output_size, conv_output_size_cases, pair
from cnngrade.properties.supports import Supports, SupportsArg, as_supports

SIZE_FORMULA = "floor((size + 2*padding - dilation*(kernel_size - 1) - 1)/stride) + 1"


def format_call(name: str, args: tuple, kwargs: dict[str, Any]) -> str:
    """``conv_output_size(5, 3, stride=2)``."""
    arguments = [*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())]
    return f"{name}({', '.join(arguments)})"


@dataclass
class ArithmeticContext:
    """One check of one arithmetic implementation: how to call it and word its failures,
    ``{call}: {problem}. (property: {name})``. Its arguments are never fixed by a layer."""

    fn: Any
    name: str
    supports: Supports
    prop: str = ""
    tally: Tally = field(default_factory=Tally)

    #: no layer instance fixes the arguments of a function of ints
    fixed: ClassVar[None] = None

    @classmethod
    def of(cls, fn: Any, supports: SupportsArg, backward: Callable[..., Any] | None = None) -> ArithmeticContext:
        """The context for checking the function ``fn`` with this ``supports`` declaration (only
        ``tuple_args`` applies to a function of ints)."""
        if backward is not None:
            raise UsageError("an arithmetic check has no gradient to check: pass no backward=")
        if not callable(fn) or isinstance(fn, type):
            raise UsageError(f"expected a function of ints, got {callable_name(fn)}")
        return cls(fn, callable_name(fn), as_supports(supports))

    def fail(
        self, call: str, problem: str, *, expected: Any, seen: Any, counterexample: dict[str, Any]
    ) -> PropertyFailed:
        """The failure of the current property for ``call`` (the call, as messages show it)."""
        message = f"{call}: {problem.rstrip('.')}. (property: {self.prop})"
        return PropertyFailed(
            message, property=self.prop, expected=expected, seen=seen, counterexample=counterexample, function=call
        )

    def call(self, call: str, args: tuple, kwargs: dict[str, Any], counterexample: dict[str, Any]) -> Any:
        """``fn(*args, **kwargs)``; an exception it raises fails the property."""
        try:
            return self.fn(*args, **kwargs)
        except Exception as exc:
            if reraised(exc):
                raise
            raise self.fail(
                call,
                f"raised {exception_text(exc)}",
                expected="a number",
                seen=exc,
                counterexample=counterexample,
            ) from exc


def _is_int(value: Any) -> bool:
    return (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point())
        or type(value).__module__ == "numpy"
        and hasattr(value, "dtype")
        and value.dtype.kind in "iu"
    )


# ----------------------------------------------------------------------------------------------
# Properties


def _formula(ctx: ArithmeticContext, case: SizeCase) -> None:
    """``formula``: the size is :data:`SIZE_FORMULA`, per dimension when an argument is a pair."""
    call = format_call(ctx.name, case.args, case.kwargs)
    values = dict(zip(("size", "kernel_size"), case.args, strict=True)) | case.kwargs
    full = {"stride": 1, "padding": 0, "dilation": 1} | values
    is_pair = any(not isinstance(v, int) for v in full.values())
    columns = [
        tuple(pair(full[k])[i] for k in ("size", "kernel_size", "stride", "padding", "dilation"))
        for i in range(2 if is_pair else 1)
    ]
    expected_parts = tuple(conv_output_size(*c) for c in columns)
    expected: Any = expected_parts if is_pair else expected_parts[0]
    seen = ctx.call(call, case.args, case.kwargs, values)
    if is_pair:
        ok = (
            isinstance(seen, tuple | list | torch.Size)
            and len(seen) == 2
            and all(_is_int(s) for s in seen)
            and tuple(int(s) for s in seen) == expected
        )
        if not ok:
            raise ctx.fail(
                call,
                f"should be the pair {expected!r} ({SIZE_FORMULA} for each "
                f"dimension, since some arguments are pairs) but was {seen!r}",
                expected=expected,
                seen=seen,
                counterexample=values,
            )
        return
    if not _is_int(seen):
        hint = " (use // for the floor division)" if isinstance(seen, float) else ""
        raise ctx.fail(
            call,
            f"should be the int {expected} ({SIZE_FORMULA}) but was {seen!r}, {describe_result(seen)}{hint}",
            expected=expected,
            seen=seen,
            counterexample=values,
        )
    if int(seen) != expected:
        raise ctx.fail(
            call,
            f"should be {expected} ({SIZE_FORMULA}) but was {int(seen)}",
            expected=expected,
            seen=seen,
            counterexample=values,
        )


@st.composite
def _param_cases(draw: Any, conv: bool, supports: Supports) -> tuple[tuple, dict[str, Any]]:
    """``(args, kwargs)`` of a parameter count: ``(in, out[, kernel_size])``, and ``bias`` or not."""
    n_in = draw(st.integers(1, 512))
    n_out = draw(st.integers(1, 512))
    args: tuple = (n_in, n_out)
    if conv:
        if supports.tuple_args and draw(st.booleans()):
            args += ((draw(st.integers(1, 7)), draw(st.integers(1, 7))),)
        else:
            args += (draw(st.integers(1, 7)),)
    bias = draw(st.sampled_from(("default", True, False)))
    return args, ({} if bias == "default" else {"bias": bias})


def _param_count(ctx: ArithmeticContext, conv: bool, args: tuple, kwargs: dict[str, Any]) -> None:
    """``matches_torch``: the count is that of the parameters of ``nn.Conv2d`` (``conv``) or ``nn.Linear``."""
    call = format_call(ctx.name, args, kwargs)
    layer = torch.nn.Conv2d if conv else torch.nn.Linear
    module = layer(*args, **kwargs, device="meta")
    expected = sum(p.numel() for p in module.parameters())
    weights = "out_channels*in_channels*kh*kw" if conv else "in_features*out_features"
    biases = "out_channels" if conv else "out_features"
    formula = f"{weights}, no bias" if kwargs.get("bias", True) is False else f"{weights} + {biases}"
    counterexample = dict(zip(("in", "out", "kernel_size"), args, strict=False)) | kwargs
    seen = ctx.call(call, args, kwargs, counterexample)
    if not _is_int(seen) or int(seen) != expected:
        layer_call = format_call(f"torch.nn.{layer.__name__}", args, kwargs)
        raise ctx.fail(
            call,
            f"should be {expected}, the number of parameters of {layer_call} ({formula}), but was {seen!r}",
            expected=expected,
            seen=seen,
            counterexample=counterexample,
        )


# ----------------------------------------------------------------------------------------------
# Catalogues and checks


CONV_OUTPUT_SIZE = Catalogue(
    "check_conv_output_size",
    [
        Property(
            "formula",
            "floor((size + 2p - d(k - 1) - 1)/s) + 1, per dimension for pairs",
            lambda ctx: st.tuples(conv_output_size_cases(ctx.supports)),
            _formula,
        )
    ],
)
CONV2D_PARAM_COUNT = Catalogue(
    "check_conv2d_param_count",
    [
        Property(
            "matches_torch",
            "the number of parameters of torch.nn.Conv2d",
            lambda ctx: st.tuples(_param_cases(True, ctx.supports)),
            lambda ctx, case: _param_count(ctx, True, *case),
        )
    ],
)
LINEAR_PARAM_COUNT = Catalogue(
    "check_linear_param_count",
    [
        Property(
            "matches_torch",
            "the number of parameters of torch.nn.Linear",
            lambda ctx: st.tuples(_param_cases(False, ctx.supports)),
            lambda ctx, case: _param_count(ctx, False, *case),
        )
    ],
)


def check_conv_output_size(
    fn: Any,
    *,
    supports: SupportsArg = None,
    only: Names = None,
    skip: Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check ``fn(size, kernel_size, stride=1, padding=0, dilation=1)`` against
    ``floor((size + 2p - d(k - 1) - 1)/s) + 1``: ints give an int; with ``tuple_args`` (default),
    any pair argument gives a pair. Property: ``formula``."""
    return check_conv_output_size.conform(  # type: ignore[attr-defined]
        fn, supports=supports, only=only, skip=skip, max_examples=max_examples, profile=profile
    ).raise_for_failures()


def check_conv2d_param_count(
    fn: Any,
    *,
    supports: SupportsArg = None,
    only: Names = None,
    skip: Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check ``fn(in_channels, out_channels, kernel_size, bias=True)`` against the parameter count
    of ``torch.nn.Conv2d`` (int or, with ``tuple_args``, pair kernels). Property: ``matches_torch``."""
    return check_conv2d_param_count.conform(  # type: ignore[attr-defined]
        fn, supports=supports, only=only, skip=skip, max_examples=max_examples, profile=profile
    ).raise_for_failures()


def check_linear_param_count(
    fn: Any,
    *,
    supports: SupportsArg = None,
    only: Names = None,
    skip: Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check ``fn(in_features, out_features, bias=True)`` against the parameter count of
    ``torch.nn.Linear``. Property: ``matches_torch``."""
    return check_linear_param_count.conform(  # type: ignore[attr-defined]
        fn, supports=supports, only=only, skip=skip, max_examples=max_examples, profile=profile
    ).raise_for_failures()


expose(check_conv_output_size, CONV_OUTPUT_SIZE, ArithmeticContext.of)
expose(check_conv2d_param_count, CONV2D_PARAM_COUNT, ArithmeticContext.of)
expose(check_linear_param_count, LINEAR_PARAM_COUNT, ArithmeticContext.of)
