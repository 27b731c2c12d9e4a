r"""Property checks for unfold (im2col), fold and 2-D convolution.

For an input of ``C`` channels, a ``kh x kw`` kernel, stride ``s``, padding ``p`` and dilation
``d`` (each per dimension), the number of blocks along a dimension of size ``H`` is

.. math::

    H_{out} = \left\lfloor \frac{H + 2p - d(k - 1) - 1}{s} \right\rfloor + 1

and, with ``L = H_out * W_out``::

    unfold(x)       (N, C, H, W) -> (N, C*kh*kw, L)
                    out[n, c*kh*kw + u*kw + v, i*W_out + j] = x_pad[n, c, s*i + d*u, s*j + d*v]
    fold(patches)   (N, C*kh*kw, L) -> (N, C, *output_size), the inverse placement, overlapping
                    values summed (so fold(unfold(x)) = x times the number of blocks covering
                    each position)
    conv2d(x, w, b) (N, C_in, H, W), w: (C_out, C_in/g, kh, kw), b: (C_out,) -> (N, C_out, H_out, W_out)
                    out[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] * x_pad[n, G*C_in/g + c, s*i + d*u, s*j + d*v]
                    for g groups, G = o // (C_out/g) the group of output channel o

=====================  =================  ====================================================
check                  takes              properties, in the order they run
=====================  =================  ====================================================
check_unfold           F.unfold's         shape, matches_torch (exact), no_mutation, roundtrip
                       signature          (``F.fold(unfold(x))`` = x times the overlap count),
                                          precision, gradient, dtype, errors
check_fold             F.fold's           shape, matches_torch, no_mutation, roundtrip
                                          (``fold(F.unfold(x))`` = x times the overlap count),
                                          linearity, precision, gradient, dtype, errors
check_conv2d           F.conv2d's         shape, matches_torch, no_mutation, bias, linearity_input,
(check_conv2d_unfold)                     linearity_weight, precision, gradient, dtype, errors
=====================  =================  ====================================================

The arithmetic of these layers (output size, parameter counts) is checked by
:mod:`.arithmetic`.

Implementations are called with keyword arguments, so both torch's argument order
(``unfold(input, kernel_size, dilation=1, padding=0, stride=1)``) and the lab's
(``unfold(x, kernel_size, stride=1, padding=0)``) work: ``fn(x, kernel_size=..., padding=...,
stride=...)``, ``fn(patches, output_size=..., kernel_size=..., ...)``, ``fn(x, weight,
bias=..., stride=..., padding=...)`` (under the implementation's own ``names`` where declared).
``dilation=`` and ``groups=`` are passed only when the ``Supports`` declaration has them,
``padding='same'`` / ``'valid'`` only with ``same_padding``, ``padding`` and ``stride`` not at all
where it declares none (``padding=False``, ``stride='1'``). A convolution is also checked as an
``autograd.Function`` (``fn.apply(x, weight, bias, stride, padding, ...)``), a cs231n
``conv_forward(x, w, b, conv_param) -> (out, cache)`` with ``conv_param = {'stride', 'pad'}``, or
a layer class ``cls(in_channels, out_channels, kernel_size, stride=, padding=)`` whose ``weight``
and ``bias`` attributes are set before ``forward(x)``; in NHWC / HWC with ``(kh, kw, in, out)``
weights where declared (``weight_layout='HWIO'``).

As for pooling, an ``nn.Module`` instance is checked with its own fixed arguments
(``nn.Unfold`` / ``nn.Fold``: ``kernel_size``, ``dilation``, ``padding``, ``stride``,
``output_size``; ``nn.Conv2d``: channels, kernel, ``stride``, ``padding``, ``dilation``,
``groups`` and whether it has a bias, with weight and bias values drawn by Hypothesis and put in
with ``torch.func.functional_call``), and an ``nn.Module`` class is built per example.

Tolerances: ``torch.testing.assert_close``'s for the dtype, widened by the rounding a sum of
``C*kh*kw`` products can accumulate (relative to the same sum of magnitudes); unfold, which
only copies values, must be exact. ``precision`` allows the rounding of the sum only.

Why one module of this size: the three suites are one concept, the sliding-window arithmetic
above in its three forms. They share one context (``_Ctx``, which calls and describes all three
kinds of case), one reference (:func:`expected_shape`, :func:`torch_result`, the error bound
of a sum) and their ``matches_torch`` property, and each suite's own properties check it
against the others (unfold against torch's fold, fold against torch's unfold, the convolution's
linearity with the same bounds); split, each part would import most of the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from cnngrade.properties.calling import positional
from cnngrade.properties.catalogue import Draw, Names, Property, one
from cnngrade.properties.context import CheckContext
from cnngrade.properties.failure import UsageError
from cnngrade.properties.formatting import describe_result, format_kwargs, format_shape
from cnngrade.properties.hints import window_hints
from cnngrade.properties.running import expose, instance_arguments, tensor_context
from cnngrade.properties.shared import tensor_catalogue
from cnngrade.properties.strategies import (
    COEFFICIENTS,
    ConvCase,
    FoldCase,
    UnfoldCase,
    conv_cases,
    conv_error_cases,
    conv_output_size,
    fold_cases,
    fold_error_cases,
    fold_error_kinds,
    laid_out_tensors,
    pair,
    unfold_cases,
    unfold_error_cases,
    window_error_kinds,
)
from cnngrade.properties.supports import Supports, SupportsArg

Case = UnfoldCase | FoldCase | ConvCase

#: the attributes an nn.Unfold / nn.Fold instance fixes (nn.Fold: and output_size)
_UNFOLD_ATTRS = ("kernel_size", "dilation", "padding", "stride")


class _Ctx(CheckContext[Case]):
    """One check of one implementation: ``kind`` is ``"unfold"``, ``"fold"`` or ``"conv2d"``."""

    roles: ClassVar[dict[str, str]] = {
        "x": "image", "y": "image", "image": "image", "weight": "weight", "v": "weight", "bias": "plain",
        "patches": "plain", "q": "plain",
    }

    @classmethod
    def check_declaration(cls, kind: str, supports: Supports, mode: str) -> None:
        if not (supports.batched or supports.unbatched):
            raise UsageError(f"{kind} takes (N, C, H, W) or (C, H, W) inputs: declare layouts with NCHW or CHW")
        if kind != "conv2d" and supports.channels_at_end:
            raise UsageError(f"{kind} is checked on channels-first inputs only: declare layouts NCHW and/or CHW")
        if mode == "cs231n" and kind != "conv2d":
            raise UsageError(f"calling='cs231n' is for pooling and conv2d; {kind} is called as torch.nn.functional's")
        if mode == "cs231n":
            declared = [axis for axis in ("dilation", "groups", "same_padding") if getattr(supports, axis)]
            if supports.tuple_args or declared:
                raise UsageError(
                    "calling='cs231n' conv2d passes conv_param = {'stride', 'pad'}, two ints: declare "
                    "tuple_args=False" + (f", and not {', '.join(declared)}" if declared else "")
                )

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

    @property
    def output_role(self) -> str:
        return "plain" if self.kind == "unfold" else "image"

    def arguments(self, case: Case) -> dict[str, torch.Tensor | None]:
        if isinstance(case, ConvCase):
            return {"x": case.x, "weight": case.weight, "bias": case.bias}
        return {"x": case.x} if isinstance(case, UnfoldCase) else {"patches": case.patches}

    def dispatch(self, case: Case, args: dict[str, Any]) -> tuple[Any, Any]:
        if isinstance(case, ConvCase):
            return self._dispatch_conv(case, args)
        tensor = args["x"] if isinstance(case, UnfoldCase) else args["patches"]
        kwargs = self.keywords(case.kwargs)
        if self.mode == "function":
            return self.fn(tensor, **kwargs), None
        if self.mode == "class":
            return self.fn(**kwargs)(tensor), None
        if self.mode == "autograd":
            return self.fn.apply(tensor, *positional(self.kind, case.kwargs)), None
        if self.mode == "layer":
            layer = self.fn(**kwargs)
            return layer.forward(tensor), layer
        return self.fn(tensor), None

    def _bias(self, case: ConvCase, args: dict[str, Any]) -> Any:
        """The bias as passed: None stays None only where torch's defaults may be relied on (a layer
        class and a cs231n forward always get one, zeros for none)."""
        if args["bias"] is not None or (self.supports.leaves_defaults and self.mode != "layer"):
            return args["bias"]
        return self.boundary.outgoing(torch.zeros(case.weight.shape[0], dtype=case.weight.dtype), "plain")

    def _dispatch_conv(self, case: ConvCase, args: dict[str, Any]) -> tuple[Any, Any]:
        x, weight, bias = args["x"], args["weight"], self._bias(case, args)
        kwargs = self.keywords(case.kwargs)
        if self.mode == "function":
            return self.fn(x, weight, **{self.supports.name_of("bias"): bias}, **kwargs), None
        if self.mode == "autograd":
            return self.fn.apply(x, weight, bias, *positional("conv2d", case.kwargs)), None
        if self.mode == "cs231n":
            raw = self.fn(x, weight, bias, self.conv_param(case))
            if isinstance(raw, tuple) and len(raw) == 2:
                return raw
            raise self.fail(
                case,
                f"should return (out, cache), as a cs231n forward does, but returned {describe_result(raw)}",
                expected="(out, cache)",
                seen=raw,
            )
        out_channels, per_group, kh, kw = case.weight.shape
        in_channels = per_group * case.kwargs.get("groups", 1)
        if self.mode == "layer":
            layer = self.fn(in_channels, out_channels, (kh, kw), **kwargs)
            setattr(layer, self.supports.name_of("weight"), weight)
            setattr(layer, self.supports.name_of("bias"), bias)
            return layer.forward(x), layer
        if self.mode == "class":
            module = self.fn(in_channels, out_channels, kernel_size=(kh, kw), bias=case.bias is not None, **case.kwargs)
        else:
            module = self.fn
        params = {"weight": weight}
        if getattr(module, "bias", None) is not None:
            params["bias"] = bias if bias is not None else torch.zeros_like(module.bias, dtype=case.weight.dtype)
        return torch.func.functional_call(module, params, (x,)), None

    def conv_param(self, case: ConvCase) -> dict[str, int]:
        """cs231n's ``conv_param`` for ``case``."""
        return {"stride": case.kwargs.get("stride", 1), "pad": case.kwargs.get("padding", 0)}

    def dispatch_backward(self, case: Case, args: dict[str, Any], state: Any, dout: Any) -> Any:
        if self.mode == "layer":
            return state.backward(dout)
        if self.mode == "cs231n":
            return self.backward(dout, state)
        tensors = [v for v in args.values() if v is not None]
        return self.backward(dout, *tensors, **self.keywords(case.kwargs))

    def describe(self, case: Case) -> str:
        kwargs = format_kwargs(self.keywords(case.kwargs))
        if isinstance(case, ConvCase):
            bias = "None" if case.bias is None else "bias"
            if self.mode == "function":
                return f"{self.name}(x, weight, {self.supports.name_of('bias')}={bias}, {kwargs})".replace(", )", ")")
            if self.mode == "class":
                return f"{self.name}(..., bias={case.bias is not None}, {kwargs})(x)".replace(", )", ")")
            if self.mode == "cs231n":
                return f"{self.name}(x, w, b, {self.conv_param(case)!r})"
            if self.mode == "autograd":
                extra = "".join(f", {a!r}" for a in positional("conv2d", case.kwargs))
                return f"{self.name}.apply(x, weight, {bias}{extra})"
            if self.mode == "layer":
                return f"{self.name}(in_channels, out_channels, kernel_size, {kwargs}).forward(x)".replace(", )", ")")
            return f"{self.name}(x) with the weight and bias below"
        first = "x" if isinstance(case, UnfoldCase) else "patches"
        if self.mode == "function":
            return f"{self.name}({first}, {kwargs})"
        if self.mode == "class":
            return f"{self.name}({kwargs})({first})"
        if self.mode == "layer":
            return f"{self.name}({kwargs}).forward({first})"
        if self.mode == "autograd":
            return f"{self.name}.apply({first}, {', '.join(repr(a) for a in positional(self.kind, case.kwargs))})"
        return f"{self.name}({first})"

    def subject_suffix(self, case: Case) -> str:
        if isinstance(case, ConvCase):
            weight = self.boundary.outgoing(case.weight, "weight")
            return f" and a {format_shape(weight.shape)} weight"
        return " of patches" if isinstance(case, FoldCase) else ""

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

    def hints(self, case: Case) -> tuple[str, ...]:
        if isinstance(case, ConvCase):
            form, kernel = ("NCHW" if case.x.dim() == 4 else "CHW"), tuple(case.weight.shape[-2:])
        elif isinstance(case, UnfoldCase):
            form, kernel = ("NCHW" if case.x.dim() == 4 else "CHW"), pair(case.kwargs["kernel_size"])
        else:
            form, kernel = ("NCHW" if case.patches.dim() == 3 else "CHW"), pair(case.kwargs["kernel_size"])
        return window_hints(self.supports, form, case.kwargs, kernel, pool=False)


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


def _precision(ctx: _Ctx, case: Case) -> None:
    out = ctx.call(case)
    bound, terms = _bound(case)
    ctx.compare(
        case,
        out,
        torch_result(case),
        what=f"with float64 values that float32 cannot hold (quarters plus multiples of 2**-30) the output "
        f"should equal {ctx.torch_name}'s within float64 rounding (float32 arithmetic rounds them away)",
        exact=isinstance(case, UnfoldCase),
        bound=bound,
        terms=terms + 2,
        strict=True,
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


def _cases(cases: Callable[..., st.SearchStrategy], **options: Any) -> Draw:
    """Draws ``cases(supports, fixed=..., **options)`` for a context."""
    return lambda ctx: cases(ctx.supports, fixed=ctx.fixed, **options)


UNFOLD = tensor_catalogue(
    "check_unfold",
    _cases(unfold_cases),
    shape="output shape (N, C*kh*kw, L)",
    torch_name="torch.nn.functional.unfold",
    matches_torch=_matches_torch,
    own=[
        Property(
            "roundtrip",
            "F.fold(unfold(x)) == x * overlap count",
            one(_cases(unfold_cases)),
            _unfold_roundtrip,
        ),
    ],
    precision=_precision,
    precision_cases=_cases(unfold_cases, dtype=torch.float64, fine=True),
    gradient_cases=_cases(unfold_cases, dtype=torch.float64),
    error_cases=lambda ctx: unfold_error_cases(ctx.supports),
    errors="stride 0 and kernels larger than the padded input raise",
    error_kinds=window_error_kinds,
)

FOLD = tensor_catalogue(
    "check_fold",
    _cases(fold_cases),
    shape="output shape (N, C, *output_size)",
    torch_name="torch.nn.functional.fold",
    matches_torch=_matches_torch,
    own=[
        Property(
            "roundtrip",
            "fold(F.unfold(x)) == x * overlap count",
            one(_cases(fold_cases)),
            _fold_roundtrip,
        ),
        Property("linearity", "fold(a*p + b*q) == a*fold(p) + b*fold(q)", _two_patch_sets, _fold_linearity),
    ],
    precision=_precision,
    precision_cases=_cases(fold_cases, dtype=torch.float64, fine=True),
    gradient_cases=_cases(fold_cases, dtype=torch.float64),
    error_cases=lambda ctx: fold_error_cases(ctx.supports),
    errors="stride 0 and a wrong number of patches raise",
    error_kinds=fold_error_kinds,
)

CONV2D = tensor_catalogue(
    "check_conv2d",
    _cases(conv_cases),
    shape="output shape (N, out_channels, H_out, W_out)",
    torch_name="torch.nn.functional.conv2d",
    matches_torch=_matches_torch,
    no_mutation="inputs, weight and bias are left unchanged",
    own=[
        Property(
            "bias",
            "the bias shifts each output channel",
            one(_cases(conv_cases, bias=True)),
            _bias,
            applies=lambda fixed: bool(fixed.get("bias")),
        ),
        Property("linearity_input", "linear in the input", _two_inputs, _linearity_input),
        Property("linearity_weight", "linear in the weight", _two_weights, _linearity_weight),
    ],
    precision=_precision,
    precision_cases=_cases(conv_cases, dtype=torch.float64, fine=True),
    gradient="float64 gradients (input, weight, bias) equal torch's",
    gradient_cases=_cases(conv_cases, dtype=torch.float64),
    error_cases=lambda ctx: conv_error_cases(ctx.supports),
    errors="stride 0 and kernels larger than the padded input raise",
    error_kinds=window_error_kinds,
)


def check_unfold(
    fn: Any,
    *,
    supports: SupportsArg = None,
    backward: Callable[..., Any] | None = None,
    only: Names = None,
    skip: Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check an unfold (im2col) implementation: ``fn(x, kernel_size=, padding=, stride=[, dilation=])``
    returning ``(N, C*kh*kw, L)``. Arguments as :func:`cnngrade.properties.check_max_pool2d`;
    returns the names of the properties that hold; raises PropertyFailed."""
    return check_unfold.conform(  # type: ignore[attr-defined]
        fn, supports=supports, backward=backward, only=only, skip=skip, max_examples=max_examples, profile=profile
    ).raise_for_failures()


def check_fold(
    fn: Any,
    *,
    supports: SupportsArg = None,
    backward: Callable[..., Any] | None = None,
    only: Names = None,
    skip: Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check a fold implementation: ``fn(patches, output_size=, kernel_size=, padding=, stride=)``
    returning ``(N, C, *output_size)``, overlapping patches summed. Arguments as
    :func:`cnngrade.properties.check_max_pool2d`."""
    return check_fold.conform(  # type: ignore[attr-defined]
        fn, supports=supports, backward=backward, only=only, skip=skip, max_examples=max_examples, profile=profile
    ).raise_for_failures()


def check_conv2d(
    fn: Any,
    *,
    supports: SupportsArg = None,
    backward: Callable[..., Any] | None = None,
    only: Names = None,
    skip: Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check a 2-D convolution: ``fn(x, weight, bias=, stride=, padding=[, dilation=, groups=])``, as
    ``torch.nn.functional.conv2d`` (the lab's ``conv2d_unfold``), or, as declared, a cs231n
    ``conv_forward(x, w, b, conv_param)`` with ``conv_param = {'stride', 'pad'}`` and its
    ``backward(dout, cache) -> (dx, dw, db)``, or a layer class ``cls(in_channels, out_channels,
    kernel_size, stride=, padding=)`` whose ``weight`` and ``bias`` attributes are set before its
    ``forward(x)``. Arguments as :func:`cnngrade.properties.check_max_pool2d`."""
    return check_conv2d.conform(  # type: ignore[attr-defined]
        fn, supports=supports, backward=backward, only=only, skip=skip, max_examples=max_examples, profile=profile
    ).raise_for_failures()


#: the lab's name for it
check_conv2d_unfold = check_conv2d

expose(check_unfold, UNFOLD, tensor_context(_Ctx, "unfold"), fixed_of=instance_arguments(_Ctx, "unfold"))
expose(check_fold, FOLD, tensor_context(_Ctx, "fold"), fixed_of=instance_arguments(_Ctx, "fold"))
expose(check_conv2d, CONV2D, tensor_context(_Ctx, "conv2d"), fixed_of=instance_arguments(_Ctx, "conv2d"))
