"""Property checks for unfold (im2col), fold, convolution and convolution arithmetic.

=====================  =================  ====================================================
check                  takes              properties, in the order they run
=====================  =================  ====================================================
check_unfold           F.unfold's         shape, matches_torch (exact), no_mutation, roundtrip
                       signature          (``F.fold(unfold(x))`` = x times the overlap count),
                                          gradient, errors
check_fold             F.fold's           shape, matches_torch, no_mutation, roundtrip
                                          (``fold(F.unfold(x))`` = x times the overlap count),
                                          linearity, gradient, errors
check_conv2d           F.conv2d's         shape, matches_torch, no_mutation, bias, linearity_input,
(check_conv2d_unfold)                     linearity_weight, gradient, errors
check_conv_output_size (size, kernel_size, formula
                       stride, padding,
                       dilation)
check_conv2d_param_count (in, out, k,     matches_torch (the parameters of ``nn.Conv2d``)
                       bias)
check_linear_param_count (in, out, bias)  matches_torch (the parameters of ``nn.Linear``)
=====================  =================  ====================================================

Implementations are called with keyword arguments, so both torch's argument order
(``unfold(input, kernel_size, dilation=1, padding=0, stride=1)``) and the lab's
(``unfold(x, kernel_size, stride=1, padding=0)``) work: ``fn(x, kernel_size=..., padding=...,
stride=...)``, ``fn(patches, output_size=..., kernel_size=..., ...)``, ``fn(x, weight,
bias=..., stride=..., padding=...)``. ``dilation=`` and ``groups=`` are passed only when the
``Supports`` declaration has them, ``padding='same'`` / ``'valid'`` only with ``same_padding``.

As for pooling, an ``nn.Module`` instance is checked with its own fixed arguments
(``nn.Unfold`` / ``nn.Fold``: ``kernel_size``, ``dilation``, ``padding``, ``stride``,
``output_size``; ``nn.Conv2d``: channels, kernel, ``stride``, ``padding``, ``dilation``,
``groups`` and whether it has a bias, with weight and bias values drawn by Hypothesis and put in
with ``torch.func.functional_call``), and an ``nn.Module`` class is built per example.

Tolerances: ``torch.testing.assert_close``'s for the dtype, widened by the rounding a sum of
``C*kh*kw`` products can accumulate (relative to the same sum of magnitudes); unfold, which
only copies values, must be exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from cnngrade.properties.core import (
    Catalogue,
    CheckContext,
    Property,
    PropertyFailed,
    Supports,
    as_supports,
    callable_name,
    describe_result,
    describe_tensor,
    errors_property,
    exception_text,
    expose,
    format_kwargs,
    format_shape,
    gradient_property,
    no_mutation_property,
    reraised,
    run_check,
    run_property,
    shape_property,
)
from cnngrade.properties.strategies import (
    COEFFICIENTS,
    ConvCase,
    FoldCase,
    SizeCase,
    UnfoldCase,
    conv_cases,
    conv_error_cases,
    conv_output_size,
    conv_output_size_cases,
    fold_cases,
    fold_error_cases,
    laid_out_tensors,
    pair,
    unfold_cases,
    unfold_error_cases,
)

Case = UnfoldCase | FoldCase | ConvCase

#: the attributes an nn.Unfold / nn.Fold instance fixes (nn.Fold: and output_size)
_UNFOLD_ATTRS = ("kernel_size", "dilation", "padding", "stride")


class _Ctx(CheckContext[Case]):
    """One check of one implementation: ``kind`` is ``"unfold"``, ``"fold"`` or ``"conv2d"``."""

    @classmethod
    def fixed_arguments(cls, kind: str, layer: torch.nn.Module) -> dict[str, Any]:
        if kind == "conv2d":
            return {
                "in_channels": layer.in_channels,
                "out_channels": layer.out_channels,
                "kernel_size": layer.kernel_size,
                "stride": getattr(layer, "stride", 1),
                "padding": getattr(layer, "padding", 0),
                "dilation": getattr(layer, "dilation", 1),
                "groups": getattr(layer, "groups", 1),
                "bias": getattr(layer, "bias", None) is not None,
            }
        attrs = _UNFOLD_ATTRS + (("output_size",) if kind == "fold" else ())
        return {a: getattr(layer, a) for a in attrs if hasattr(layer, a)}

    @property
    def torch_name(self) -> str:
        return f"torch.nn.functional.{self.kind}"

    def arguments(self, case: Case) -> dict[str, torch.Tensor | None]:
        if isinstance(case, ConvCase):
            return {"x": case.x, "weight": case.weight, "bias": case.bias}
        return {"x": case.x} if isinstance(case, UnfoldCase) else {"patches": case.patches}

    def invoke(self, case: Case) -> Any:
        if isinstance(case, ConvCase):
            return self._invoke_conv(case)
        tensor = case.x if isinstance(case, UnfoldCase) else case.patches
        if self.mode == "function":
            return self.fn(tensor, **case.kwargs)
        if self.mode == "class":
            return self.fn(**case.kwargs)(tensor)
        return self.fn(tensor)

    def _invoke_conv(self, case: ConvCase) -> Any:
        if self.mode == "function":
            return self.fn(case.x, case.weight, bias=case.bias, **case.kwargs)
        if self.mode == "class":
            groups = case.kwargs.get("groups", 1)
            out_channels, per_group, kh, kw = case.weight.shape
            module = self.fn(
                per_group * groups,
                out_channels,
                kernel_size=(kh, kw),
                bias=case.bias is not None,
                **case.kwargs,
            )
        else:
            module = self.fn
        params = {"weight": case.weight}
        if getattr(module, "bias", None) is not None:
            params["bias"] = (
                case.bias if case.bias is not None else torch.zeros_like(module.bias, dtype=case.weight.dtype)
            )
        return torch.func.functional_call(module, params, (case.x,))

    def describe(self, case: Case) -> str:
        if isinstance(case, ConvCase):
            bias = "None" if case.bias is None else "bias"
            if self.mode == "function":
                return f"{self.name}(x, weight, bias={bias}, {format_kwargs(case.kwargs)})"
            if self.mode == "class":
                return f"{self.name}(..., bias={case.bias is not None}, {format_kwargs(case.kwargs)})(x)"
            return f"{self.name}(x) with the weight and bias below"
        first = "x" if isinstance(case, UnfoldCase) else "patches"
        if self.mode == "function":
            return f"{self.name}({first}, {format_kwargs(case.kwargs)})"
        if self.mode == "class":
            return f"{self.name}({format_kwargs(case.kwargs)})({first})"
        return f"{self.name}({first})"

    def subject(self, case: Case) -> str:
        if isinstance(case, ConvCase):
            return f"{describe_tensor(case.x, case.layout)} and a {format_shape(case.weight.shape)} weight"
        if isinstance(case, UnfoldCase):
            return describe_tensor(case.x, case.layout)
        return describe_tensor(case.patches, case.layout) + " of patches"

    def expected_shape(self, case: Case) -> tuple[tuple[int, ...], str]:
        return expected_shape(case)

    def reference(self, case: Case, **tensors: torch.Tensor) -> torch.Tensor:
        return torch_result(case, **tensors)

    def gradient_tolerance(
        self, case: Case, expected: torch.Tensor, reference: torch.Tensor
    ) -> tuple[torch.Tensor, int]:
        bound = expected.abs() + 2 * max(1.0, float(reference.detach().abs().max()) if reference.numel() else 1.0)
        return bound, 16

    def error_reason(self, case: Case) -> str:
        return _ERROR_REASONS[case.error or "stride"]


_ERROR_REASONS = {
    "stride": "torch refuses a stride of zero",
    "kernel": "torch refuses a kernel larger than the padded input",
    "count": "torch refuses a number of patches that does not match output_size",
}


# ----------------------------------------------------------------------------------------------
# Arithmetic and references


def _spatial(kwargs: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    return (pair(kwargs.get("dilation", 1)), pair(kwargs.get("padding", 0)), pair(kwargs.get("stride", 1)))


def _formula(kwargs: dict[str, Any]) -> str:
    window = "k" if pair(kwargs.get("dilation", 1)) == (1, 1) else "d*(k - 1) - 1"
    return f"H_out = floor((H + 2p - {window})/s) + 1"


def expected_shape(case: Case) -> tuple[tuple[int, ...], str]:
    """The output shape the conv arithmetic gives, and the formula in words."""
    if isinstance(case, UnfoldCase):
        kernel = pair(case.kwargs["kernel_size"])
        dil, pad, stride = _spatial(case.kwargs)
        h, w = case.x.shape[-2:]
        blocks = conv_output_size(h, kernel[0], stride[0], pad[0], dil[0]) * conv_output_size(
            w, kernel[1], stride[1], pad[1], dil[1]
        )
        shape = (*case.x.shape[:-3], case.x.shape[-3] * kernel[0] * kernel[1], blocks)
        return shape, f"(N, C*kh*kw, L), L = H_out*W_out, {_formula(case.kwargs)}"
    if isinstance(case, FoldCase):
        kernel = pair(case.kwargs["kernel_size"])
        channels = case.patches.shape[-2] // (kernel[0] * kernel[1])
        shape = (*case.patches.shape[:-2], channels, *pair(case.kwargs["output_size"]))
        return shape, "(N, C, *output_size), C = rows/(kh*kw)"
    out_channels, _, kh, kw = case.weight.shape
    dil = pair(case.kwargs.get("dilation", 1))
    stride = pair(case.kwargs.get("stride", 1))
    padding = case.kwargs.get("padding", 0)
    h, w = case.x.shape[-2:]
    if padding == "same":
        spatial = (h, w)
    else:
        pad = (0, 0) if padding == "valid" else pair(padding)
        spatial = (
            conv_output_size(h, kh, stride[0], pad[0], dil[0]),
            conv_output_size(w, kw, stride[1], pad[1], dil[1]),
        )
    return (
        *case.x.shape[:-3],
        out_channels,
        *spatial,
    ), f"(N, out_channels, H_out, W_out), {_formula(case.kwargs)}"


def torch_result(case: Case, **override: Any) -> torch.Tensor:
    """torch's answer for ``case`` (``override``: replace x / patches / weight / bias)."""
    if isinstance(case, UnfoldCase):
        return F.unfold(override.get("x", case.x), **case.kwargs)
    if isinstance(case, FoldCase):
        return F.fold(override.get("patches", case.patches), **case.kwargs)
    bias = override.get("bias", case.bias)
    return F.conv2d(override.get("x", case.x), override.get("weight", case.weight), bias, **case.kwargs)


def _bound(case: Case) -> tuple[torch.Tensor, int]:
    """A bound on the magnitudes the result sums, and how many terms it sums."""
    if isinstance(case, FoldCase):
        kernel = pair(case.kwargs["kernel_size"])
        return F.fold(case.patches.abs(), **case.kwargs), kernel[0] * kernel[1]
    if isinstance(case, ConvCase):
        bias = None if case.bias is None else case.bias.abs()
        terms = case.weight.shape[1] * case.weight.shape[2] * case.weight.shape[3] + 1
        return F.conv2d(case.x.abs(), case.weight.abs(), bias, **case.kwargs), terms
    return torch.zeros(()), 1


def _overlap(image: torch.Tensor, kwargs: dict[str, Any]) -> torch.Tensor:
    """How many patches cover each position of ``image`` (same shape)."""
    ones = torch.ones_like(image, memory_format=torch.contiguous_format)
    unfold_kwargs = {k: v for k, v in kwargs.items() if k != "output_size"}
    return F.fold(F.unfold(ones, **unfold_kwargs), output_size=tuple(image.shape[-2:]), **unfold_kwargs)


def _most(count: torch.Tensor) -> int:
    return int(count.max()) if count.numel() else 1


# ----------------------------------------------------------------------------------------------
# Properties shared by the three tensor checks


def _matches_torch(ctx: _Ctx, case: Case) -> None:
    out = ctx.call(case)
    bound, terms = _bound(case)
    ctx.compare(
        case,
        out,
        torch_result(case),
        what=f"the output should equal {ctx.torch_name}'s",
        exact=isinstance(case, UnfoldCase),
        bound=bound,
        terms=terms + 2,
    )


# ----------------------------------------------------------------------------------------------
# unfold / fold specific


def _unfold_roundtrip(ctx: _Ctx, case: UnfoldCase) -> None:
    columns = ctx.call_shaped(case)
    h, w = case.x.shape[-2:]
    folded = F.fold(columns.detach(), output_size=(h, w), **case.kwargs)
    count = _overlap(case.x, case.kwargs)
    expected = case.x * count
    ctx.compare(
        case,
        folded,
        expected.to(folded.dtype),
        bound=expected,
        terms=_most(count) + 1,
        what="folding its patches back (torch.nn.functional.fold) should give x times the number of "
        "patches covering each position, since fold adds overlapping patches",
    )


def _fold_roundtrip(ctx: _Ctx, case: FoldCase) -> None:
    unfold_kwargs = {k: v for k, v in case.kwargs.items() if k != "output_size"}
    patches = F.unfold(case.image, **unfold_kwargs)
    case = replace(case, patches=patches, layout="contiguous")
    out = ctx.call_shaped(case)
    count = _overlap(case.image, case.kwargs)
    expected = case.image * count
    ctx.compare(
        case,
        out,
        expected.to(out.dtype),
        bound=expected,
        terms=_most(count) + 1,
        inputs={"image": case.image},
        what="on the patches of an image (torch.nn.functional.unfold(image)) it should give the image "
        "times the number of patches covering each position, since fold adds overlapping patches",
    )


@st.composite
def _two_patch_sets(draw: Any, ctx: _Ctx) -> tuple[FoldCase, torch.Tensor, float, float]:
    case = draw(fold_cases(ctx.supports, fixed=ctx.fixed))
    other, _ = draw(laid_out_tensors(tuple(case.patches.shape), case.patches.dtype))
    return case, other, draw(COEFFICIENTS), draw(COEFFICIENTS)


def _fold_linearity(ctx: _Ctx, case: FoldCase, q: torch.Tensor, a: float, b: float) -> None:
    fp = ctx.call_shaped(case)
    fq = ctx.call_shaped(replace(case, patches=q), on="on q: ")
    combined = ctx.call_shaped(replace(case, patches=a * case.patches + b * q), on="on a*patches + b*q: ")
    kwargs = case.kwargs
    bound = abs(a) * F.fold(case.patches.abs(), **kwargs) + abs(b) * F.fold(q.abs(), **kwargs)
    kernel = pair(kwargs["kernel_size"])
    ctx.compare(
        case,
        combined.detach(),
        (a * fp + b * fq).detach().to(combined.dtype),
        bound=bound,
        terms=kernel[0] * kernel[1] + 3,
        inputs={"q": q, "a": a, "b": b},
        what=f"fold is linear, so {ctx.name}(a*patches + b*q) should equal a*{ctx.name}(patches) + "
        f"b*{ctx.name}(q)",
    )


# ----------------------------------------------------------------------------------------------
# convolution specific


def _zero_bias(ctx: _Ctx, case: ConvCase) -> torch.Tensor | None:
    """The bias meaning "none": None, or zeros for a layer instance that has a bias."""
    if ctx.mode == "instance" and ctx.fixed and ctx.fixed.get("bias"):
        return torch.zeros(case.weight.shape[0], dtype=case.weight.dtype)
    return None


def _bias(ctx: _Ctx, case: ConvCase) -> None:
    with_bias = ctx.call_shaped(case)
    without = ctx.call_shaped(replace(case, bias=_zero_bias(ctx, case)), on="without the bias: ")
    bias = case.bias
    shift = bias.reshape(-1, 1, 1)
    bound, terms = _bound(case)
    ctx.compare(
        case,
        (with_bias - without).detach(),
        shift.expand_as(with_bias).to(with_bias.dtype).contiguous(),
        bound=bound,
        terms=terms + 2,
        what="a bias adds bias[o] to every output of channel o, so the output with the bias minus the "
        "output without it should be the bias",
    )


@st.composite
def _two_inputs(draw: Any, ctx: _Ctx) -> tuple[ConvCase, torch.Tensor, float, float]:
    case = draw(conv_cases(ctx.supports, fixed=ctx.fixed))
    y, _ = draw(laid_out_tensors(tuple(case.x.shape), case.x.dtype))
    return replace(case, bias=_zero_bias(ctx, case)), y, draw(COEFFICIENTS), draw(COEFFICIENTS)


@st.composite
def _two_weights(draw: Any, ctx: _Ctx) -> tuple[ConvCase, torch.Tensor, float, float]:
    case = draw(conv_cases(ctx.supports, fixed=ctx.fixed))
    v, _ = draw(laid_out_tensors(tuple(case.weight.shape), case.weight.dtype))
    return replace(case, bias=_zero_bias(ctx, case)), v, draw(COEFFICIENTS), draw(COEFFICIENTS)


def _conv_terms(case: ConvCase) -> int:
    return case.weight.shape[1] * case.weight.shape[2] * case.weight.shape[3] + 3


def _linearity_input(ctx: _Ctx, case: ConvCase, y: torch.Tensor, a: float, b: float) -> None:
    fx = ctx.call_shaped(case)
    fy = ctx.call_shaped(replace(case, x=y), on="on y: ")
    combined = ctx.call_shaped(replace(case, x=a * case.x + b * y), on="on a*x + b*y: ")
    w = case.weight.abs()
    bound = abs(a) * F.conv2d(case.x.abs(), w, **case.kwargs) + abs(b) * F.conv2d(y.abs(), w, **case.kwargs)
    ctx.compare(
        case,
        combined.detach(),
        (a * fx + b * fy).detach().to(combined.dtype),
        bound=bound,
        terms=_conv_terms(case),
        inputs={"y": y, "a": a, "b": b},
        what=f"convolution is linear in its input, so {ctx.name}(a*x + b*y, weight) should equal "
        f"a*{ctx.name}(x, weight) + b*{ctx.name}(y, weight)",
    )


def _linearity_weight(ctx: _Ctx, case: ConvCase, v: torch.Tensor, a: float, b: float) -> None:
    fw = ctx.call_shaped(case)
    fv = ctx.call_shaped(replace(case, weight=v), on="with weight v: ")
    combined = ctx.call_shaped(
        replace(case, weight=a * case.weight + b * v), on="with weight a*weight + b*v: "
    )
    x = case.x.abs()
    bound = abs(a) * F.conv2d(x, case.weight.abs(), **case.kwargs) + abs(b) * F.conv2d(
        x, v.abs(), **case.kwargs
    )
    ctx.compare(
        case,
        combined.detach(),
        (a * fw + b * fv).detach().to(combined.dtype),
        bound=bound,
        terms=_conv_terms(case),
        inputs={"v": v, "a": a, "b": b},
        what=f"convolution is linear in its weight, so {ctx.name}(x, a*weight + b*v) should equal "
        f"a*{ctx.name}(x, weight) + b*{ctx.name}(x, v)",
    )


# ----------------------------------------------------------------------------------------------
# Catalogues


def _one(make: Any) -> Any:
    return lambda ctx: st.tuples(make(ctx))


def _unfold_catalogue() -> Catalogue:
    cat = Catalogue("check_unfold")
    cases = _one(lambda ctx: unfold_cases(ctx.supports, fixed=ctx.fixed))
    cat.add(Property("shape", "output shape (N, C*kh*kw, L)", cases, shape_property))
    cat.add(Property("matches_torch", "equal to torch.nn.functional.unfold", cases, _matches_torch))
    cat.add(Property("no_mutation", "the input is left unchanged", cases, no_mutation_property))
    cat.add(Property("roundtrip", "F.fold(unfold(x)) == x * overlap count", cases, _unfold_roundtrip))
    cat.add(
        Property(
            "gradient",
            "float64 gradients equal torch's",
            _one(lambda ctx: unfold_cases(ctx.supports, fixed=ctx.fixed, dtype=torch.float64)),
            gradient_property,
        )
    )
    cat.add(
        Property(
            "errors",
            "stride 0 and kernels larger than the padded input raise",
            _one(lambda ctx: unfold_error_cases(ctx.supports)),
            errors_property,
            axis="errors",
            varies_args=True,
        )
    )
    return cat


def _fold_catalogue() -> Catalogue:
    cat = Catalogue("check_fold")
    cases = _one(lambda ctx: fold_cases(ctx.supports, fixed=ctx.fixed))
    cat.add(Property("shape", "output shape (N, C, *output_size)", cases, shape_property))
    cat.add(Property("matches_torch", "equal to torch.nn.functional.fold", cases, _matches_torch))
    cat.add(Property("no_mutation", "the input is left unchanged", cases, no_mutation_property))
    cat.add(Property("roundtrip", "fold(F.unfold(x)) == x * overlap count", cases, _fold_roundtrip))
    cat.add(
        Property("linearity", "fold(a*p + b*q) == a*fold(p) + b*fold(q)", _two_patch_sets, _fold_linearity)
    )
    cat.add(
        Property(
            "gradient",
            "float64 gradients equal torch's",
            _one(lambda ctx: fold_cases(ctx.supports, fixed=ctx.fixed, dtype=torch.float64)),
            gradient_property,
        )
    )
    cat.add(
        Property(
            "errors",
            "stride 0 and a wrong number of patches raise",
            _one(lambda ctx: fold_error_cases(ctx.supports)),
            errors_property,
            axis="errors",
            varies_args=True,
        )
    )
    return cat


def _conv_catalogue() -> Catalogue:
    cat = Catalogue("check_conv2d")
    cases = _one(lambda ctx: conv_cases(ctx.supports, fixed=ctx.fixed))
    cat.add(Property("shape", "output shape (N, out_channels, H_out, W_out)", cases, shape_property))
    cat.add(Property("matches_torch", "equal to torch.nn.functional.conv2d", cases, _matches_torch))
    cat.add(Property("no_mutation", "inputs, weight and bias are left unchanged", cases, no_mutation_property))
    cat.add(
        Property(
            "bias",
            "the bias shifts each output channel",
            _one(lambda ctx: conv_cases(ctx.supports, fixed=ctx.fixed, bias=True)),
            _bias,
            applies=lambda fixed: bool(fixed.get("bias")),
        )
    )
    cat.add(Property("linearity_input", "linear in the input", _two_inputs, _linearity_input))
    cat.add(Property("linearity_weight", "linear in the weight", _two_weights, _linearity_weight))
    cat.add(
        Property(
            "gradient",
            "float64 gradients (input, weight, bias) equal torch's",
            _one(lambda ctx: conv_cases(ctx.supports, fixed=ctx.fixed, dtype=torch.float64)),
            gradient_property,
        )
    )
    cat.add(
        Property(
            "errors",
            "stride 0 and kernels larger than the padded input raise",
            _one(lambda ctx: conv_error_cases(ctx.supports)),
            errors_property,
            axis="errors",
            varies_args=True,
        )
    )
    return cat


UNFOLD = _unfold_catalogue()
FOLD = _fold_catalogue()
CONV2D = _conv_catalogue()


_SupportsArg = Supports | str | Iterable[str] | None
_Names = str | Iterable[str] | None


def check_unfold(
    fn: Any,
    *,
    supports: _SupportsArg = None,
    only: _Names = None,
    skip: _Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check an unfold (im2col) implementation: ``fn(x, kernel_size=, padding=, stride=[, dilation=])``
    returning ``(N, C*kh*kw, L)``. Arguments as :func:`cnngrade.properties.check_max_pool2d`;
    returns the names of the properties checked; raises PropertyFailed."""
    return run_check(_Ctx.of("unfold", fn, supports), UNFOLD, only, skip or (), max_examples, profile)


def check_fold(
    fn: Any,
    *,
    supports: _SupportsArg = None,
    only: _Names = None,
    skip: _Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check a fold implementation: ``fn(patches, output_size=, kernel_size=, padding=, stride=)``
    returning ``(N, C, *output_size)``, overlapping patches summed. Arguments as
    :func:`cnngrade.properties.check_max_pool2d`."""
    return run_check(_Ctx.of("fold", fn, supports), FOLD, only, skip or (), max_examples, profile)


def check_conv2d(
    fn: Any,
    *,
    supports: _SupportsArg = None,
    only: _Names = None,
    skip: _Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check a 2-D convolution: ``fn(x, weight, bias=, stride=, padding=[, dilation=, groups=])``, as
    ``torch.nn.functional.conv2d`` (the lab's ``conv2d_unfold``). Arguments as
    :func:`cnngrade.properties.check_max_pool2d`."""
    return run_check(_Ctx.of("conv2d", fn, supports), CONV2D, only, skip or (), max_examples, profile)


#: the lab's name for it
check_conv2d_unfold = check_conv2d

expose(check_unfold, UNFOLD, _Ctx, "unfold")
expose(check_fold, FOLD, _Ctx, "fold")
expose(check_conv2d, CONV2D, _Ctx, "conv2d")


# ----------------------------------------------------------------------------------------------
# Arithmetic checks (plain functions of ints)


def _fail_plain(
    prop: str, call: str, problem: str, *, expected: Any, seen: Any, counterexample: dict[str, Any]
) -> PropertyFailed:
    message = f"{call}: {problem.rstrip('.')}. (property: {prop})"
    return PropertyFailed(
        message, property=prop, expected=expected, seen=seen, counterexample=counterexample, function=call
    )


def _plain_call(
    fn: Any, prop: str, call: str, args: tuple, kwargs: dict[str, Any], counterexample: dict[str, Any]
) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if reraised(exc):
            raise
        raise _fail_plain(
            prop,
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


SIZE_FORMULA = "floor((size + 2*padding - dilation*(kernel_size - 1) - 1)/stride) + 1"


def _conv_output_size_formula(fn: Any, case: SizeCase, name: str) -> None:
    args_text = ", ".join([*(repr(a) for a in case.args), *(f"{k}={v!r}" for k, v in case.kwargs.items())])
    call = f"{name}({args_text})"
    values = dict(zip(("size", "kernel_size"), case.args, strict=True)) | case.kwargs
    full = {"stride": 1, "padding": 0, "dilation": 1} | values
    is_pair = any(not isinstance(v, int) for v in full.values())
    columns = [
        tuple(pair(full[k])[i] for k in ("size", "kernel_size", "stride", "padding", "dilation"))
        for i in range(2 if is_pair else 1)
    ]
    expected_parts = tuple(conv_output_size(*c) for c in columns)
    expected: Any = expected_parts if is_pair else expected_parts[0]
    seen = _plain_call(fn, "formula", call, case.args, case.kwargs, values)
    if is_pair:
        ok = (
            isinstance(seen, tuple | list | torch.Size)
            and len(seen) == 2
            and all(_is_int(s) for s in seen)
            and tuple(int(s) for s in seen) == expected
        )
        if not ok:
            raise _fail_plain(
                "formula",
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
        raise _fail_plain(
            "formula",
            call,
            f"should be the int {expected} ({SIZE_FORMULA}) but was {seen!r}, {describe_result(seen)}{hint}",
            expected=expected,
            seen=seen,
            counterexample=values,
        )
    if int(seen) != expected:
        raise _fail_plain(
            "formula",
            call,
            f"should be {expected} ({SIZE_FORMULA}) but was {int(seen)}",
            expected=expected,
            seen=seen,
            counterexample=values,
        )


@st.composite
def _param_cases(draw: Any, conv: bool, supports: Supports) -> tuple[tuple, dict[str, Any]]:
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


def _param_count(fn: Any, conv: bool, name: str, args: tuple, kwargs: dict[str, Any]) -> None:
    args_text = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    call = f"{name}({args_text})"
    layer = torch.nn.Conv2d if conv else torch.nn.Linear
    module = layer(*args, **kwargs, device="meta")
    expected = sum(p.numel() for p in module.parameters())
    weights = "out_channels*in_channels*kh*kw" if conv else "in_features*out_features"
    biases = "out_channels" if conv else "out_features"
    formula = f"{weights}, no bias" if kwargs.get("bias", True) is False else f"{weights} + {biases}"
    counterexample = dict(zip(("in", "out", "kernel_size"), args, strict=False)) | kwargs
    seen = _plain_call(fn, "matches_torch", call, args, kwargs, counterexample)
    if not _is_int(seen) or int(seen) != expected:
        layer_call = f"torch.nn.{layer.__name__}({args_text})"
        raise _fail_plain(
            "matches_torch",
            call,
            f"should be {expected}, the number of parameters of {layer_call} ({formula}), but was {seen!r}",
            expected=expected,
            seen=seen,
            counterexample=counterexample,
        )


def _plain_check(
    check: str,
    props: dict[str, tuple[st.SearchStrategy, Any]],
    fn: Any,
    only: _Names,
    skip: _Names,
    max_examples: int | None,
    profile: str | None,
) -> tuple[str, ...]:
    only_set = None if only is None else ({only} if isinstance(only, str) else set(only))
    skip_set = {skip} if isinstance(skip, str) else set(skip or ())
    for name in (only_set or set()) | skip_set:
        if name not in props:
            raise ValueError(f"{check} has no property {name!r}; its properties are {', '.join(props)}")
    chosen = [n for n in props if (only_set is None or n in only_set) and n not in skip_set]
    for name in chosen:
        strategy, body = props[name]
        run_property(
            f"cnngrade.properties:{check}:{name}:{callable_name(fn)}",
            strategy,
            body,
            max_examples=max_examples,
            profile=profile,
        )
    return tuple(chosen)


def check_conv_output_size(
    fn: Any,
    *,
    supports: _SupportsArg = None,
    only: _Names = None,
    skip: _Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check ``fn(size, kernel_size, stride=1, padding=0, dilation=1)`` against
    ``floor((size + 2p - d(k - 1) - 1)/s) + 1``: ints give an int; with ``tuple_args`` (default),
    any pair argument gives a pair. Property: ``formula``."""
    supports = as_supports(supports)
    name = callable_name(fn)
    props = {
        "formula": (
            st.tuples(conv_output_size_cases(supports)),
            lambda case: _conv_output_size_formula(fn, case, name),
        )
    }
    return _plain_check("check_conv_output_size", props, fn, only, skip, max_examples, profile)


def check_conv2d_param_count(
    fn: Any,
    *,
    supports: _SupportsArg = None,
    only: _Names = None,
    skip: _Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check ``fn(in_channels, out_channels, kernel_size, bias=True)`` against the parameter count
    of ``torch.nn.Conv2d`` (int or, with ``tuple_args``, pair kernels). Property: ``matches_torch``."""
    supports = as_supports(supports)
    name = callable_name(fn)
    props = {
        "matches_torch": (
            st.tuples(_param_cases(True, supports)),
            lambda case: _param_count(fn, True, name, *case),
        )
    }
    return _plain_check("check_conv2d_param_count", props, fn, only, skip, max_examples, profile)


def check_linear_param_count(
    fn: Any,
    *,
    supports: _SupportsArg = None,
    only: _Names = None,
    skip: _Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check ``fn(in_features, out_features, bias=True)`` against the parameter count of
    ``torch.nn.Linear``. Property: ``matches_torch``."""
    supports = as_supports(supports)
    name = callable_name(fn)
    props = {
        "matches_torch": (
            st.tuples(_param_cases(False, supports)),
            lambda case: _param_count(fn, False, name, *case),
        )
    }
    return _plain_check("check_linear_param_count", props, fn, only, skip, max_examples, profile)


check_conv_output_size.property_list = ("formula",)  # type: ignore[attr-defined]
check_conv2d_param_count.property_list = ("matches_torch",)  # type: ignore[attr-defined]
check_linear_param_count.property_list = ("matches_torch",)  # type: ignore[attr-defined]
