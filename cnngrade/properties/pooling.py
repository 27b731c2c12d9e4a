r"""Property checks for 2-D max and average pooling.

For a ``kh x kw`` window, stride ``s`` (default: the kernel size), padding ``p`` and dilation
``d`` (max pooling only), each per dimension, the output has

.. math::

    H_{out} = \left\lfloor \frac{H + 2p - d(k - 1) - 1}{s} \right\rfloor + 1

rows (``ceil_mode``: rounded up instead, less one if the last window would start in the right
padding), and::

    max_pool2d   out[..., i, j] = max_{u < kh, v < kw} x_pad[..., s*i + d*u, s*j + d*v]
                 (x padded with -inf)
    avg_pool2d   out[..., i, j] = sum_{u < kh, v < kw} x_pad[..., s*i + u, s*j + v] / D
                 (x padded with 0; D = the number of the window's positions inside the padded
                 input, or, with count_include_pad=False, inside x; or divisor_override)

``check_max_pool2d(fn)`` and ``check_avg_pool2d(fn)`` take anything with the signature of
``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` (called as ``fn(x, kernel_size=...,
stride=..., padding=..., ...)``), and also:

* an ``nn.Module`` *instance* (``nn.MaxPool2d(3, 2)``, or your own layer): its arguments are
  read from its attributes (``kernel_size``, ``stride``, ``padding``, ``dilation``,
  ``ceil_mode``, ``count_include_pad``, ``divisor_override``) and stay fixed; only the inputs
  vary, and the properties that need other arguments are left out;
* an ``nn.Module`` *class* whose constructor takes the functional keyword arguments
  (``nn.MaxPool2d``): one layer is built per example, ``cls(**kwargs)(x)``;
* an ``autograd.Function``: ``fn.apply(x, kernel_size, stride, ...)`` in torch's order;
* as declared (:class:`~cnngrade.properties.supports.Supports`): a cs231n forward
  ``fn(x, pool_param) -> (out, cache)``, ``pool_param = {'pool_height', 'pool_width',
  'stride'}``, with its ``backward(dout, cache)``; a layer class, ``cls(**kwargs).forward(x)``
  and its ``backward(dout)``; numpy arrays; NHWC / HWC layouts.

Each property runs as its own Hypothesis test (settings from the active profile, see
:mod:`cnngrade.properties.profiles`), each into a row of the table
(:class:`~cnngrade.properties.table.Conformance`) with the smallest counterexample Hypothesis
found where it fails. Properties, in the order they run (max / avg):

=================  ====  ====  ==========================================================
name               max   avg   what holds
=================  ====  ====  ==========================================================
shape              x     x     output shape = the conv-arithmetic formula
matches_torch      x     x     equal to torch.nn.functional (max: exactly; avg: within
                                assert_close's tolerances for the dtype)
no_mutation        x     x     the input is left unchanged
window_membership  x           every output is an element of its window
constant           x     x     a constant input gives that constant (avg: no padding)
max_ge_avg         x     x     max pooling >= average pooling, without padding
add_constant       x           f(x + c) == f(x) + c
positive_scale     x           f(a*x) == a*f(x) for a > 0
linearity                x     f(a*x + b*y) == a*f(x) + b*f(y)
precision          x     x     float64 values float32 cannot hold: torch's result within
                                float64 rounding (max: exactly)
gradient           x     x     float64 gradients equal torch's, no ties (from the
                                implementation's backward, or autograd; out of scope
                                where it has neither)
gradient_ties      x           tied maxima: no gradient to an element that is the maximum
                                of no window containing it, and each window's gradients
                                add up to its upstream weight (each plane's, where windows
                                overlap): torch's choice of one maximum, an even split,
                                any routing to maxima is accepted
dtype              x     x     the output's dtype is the declared one
errors             x     x     a stride of zero, or a padding over half the kernel, raise
                                (any exception, or ValueError / RuntimeError, as declared)
return_indices     x           return_indices=True: gathering x at the indices gives the
                                output (axis ``return_indices``)
special_values     x     x     NaN and -inf handled as torch does (axis ``nan_inf``)
=================  ====  ====  ==========================================================

Running one property, e.g. from ``pytest.mark.parametrize``::

    from cnngrade.properties import check_max_pool2d, property_names

    @pytest.mark.parametrize("prop", property_names(check_max_pool2d))
    def test_my_max_pool(prop):
        check_max_pool2d(my_max_pool2d, only=prop)

Why one module of this size: max and average pooling are one concept, a reduction over the
same sliding windows. The two suites share their context (``_Ctx``), their reference
(:func:`torch_pool`, :func:`pool_windows`, :func:`shape_formula`), their tolerance and most of
their properties, and ``max_ge_avg`` checks each kind against the other; split, each part
would import most of the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from cnngrade.properties.calling import positional, reraised
from cnngrade.properties.catalogue import Catalogue, Draw, Names, Property, one
from cnngrade.properties.comparison import describe_mismatch, first_index, mismatch
from cnngrade.properties.context import CheckContext
from cnngrade.properties.failure import UsageError
from cnngrade.properties.formatting import (
    describe_result,
    format_kwargs,
    format_scalar,
    format_shape,
    format_tensor,
    format_value,
)
from cnngrade.properties.gradients import implementation_gradients
from cnngrade.properties.hints import window_hints
from cnngrade.properties.running import expose, instance_arguments, tensor_context
from cnngrade.properties.shared import tensor_catalogue
from cnngrade.properties.strategies import (
    COEFFICIENTS,
    FINITE,
    POSITIVE,
    SHIFTS,
    PoolCase,
    PoolParams,
    pool_cases,
    pool_error_cases,
    pool_error_kinds,
    tensors,
)
from cnngrade.properties.supports import Supports, SupportsArg

_MAX_ATTRS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
_AVG_ATTRS = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
#: the extension axes a cs231n pool_param cannot carry
_NOT_CS231N = ("dilation", "ceil_mode", "count_include_pad", "divisor_override", "return_indices")


class _Ctx(CheckContext[PoolCase]):
    """One check of one pooling implementation: ``kind`` is ``"max"`` or ``"avg"``."""

    argument_word: ClassVar[str] = "input"
    must_not_modify: ClassVar[str] = "pooling must not modify its argument"
    roles: ClassVar[dict[str, str]] = {"x": "image"}

    @classmethod
    def check_declaration(cls, kind: str, supports: Supports, mode: str) -> None:
        if mode != "cs231n":
            return
        declared = [axis for axis in _NOT_CS231N if getattr(supports, axis)]
        if supports.padding or supports.tuple_args or declared:
            raise UsageError(
                "calling='cs231n' pooling passes pool_param = {'pool_height', 'pool_width', 'stride'}: declare "
                "padding=False and tuple_args=False" + (f", and not {', '.join(declared)}" if declared else "")
            )

    @classmethod
    def fixed_arguments(cls, kind: str, layer: torch.nn.Module) -> dict[str, Any]:
        fixed = {a: getattr(layer, a) for a in (_MAX_ATTRS if kind == "max" else _AVG_ATTRS) if hasattr(layer, a)}
        if isinstance(fixed.get("stride"), list | tuple) and len(fixed["stride"]) == 0:
            fixed["stride"] = None
        return fixed

    @property
    def torch_name(self) -> str:
        return f"torch.nn.functional.{self.kind}_pool2d"

    @property
    def output_role(self) -> str:
        return "image"

    def arguments(self, case: PoolCase) -> dict[str, torch.Tensor | None]:
        return {"x": case.x}

    def dispatch(self, case: PoolCase, args: dict[str, Any]) -> tuple[Any, Any]:
        x = args["x"]
        if self.mode == "function":
            return self.fn(x, **self.keywords(case.kwargs)), None
        if self.mode == "class":
            return self.fn(**self.keywords(case.kwargs))(x), None
        if self.mode == "autograd":
            return self.fn.apply(x, *positional(self.kind, case.kwargs)), None
        if self.mode == "layer":
            layer = self.fn(**self.keywords(case.kwargs))
            return layer.forward(x), layer
        if self.mode == "cs231n":
            return self.cs231n_output(case, self.fn(x, self.pool_param(case)))
        out = self.fn(x)
        if isinstance(out, tuple) and not case.kwargs.get("return_indices"):
            out = out[0]
        return out, None

    def pool_param(self, case: PoolCase) -> dict[str, int]:
        """cs231n's ``pool_param`` for ``case``."""
        params = case.params
        return {"pool_height": params.kernel[0], "pool_width": params.kernel[1], "stride": params.stride[0]}

    def cs231n_output(self, case: PoolCase, raw: Any) -> tuple[Any, Any]:
        """``(out, cache)`` from a cs231n forward's return, or the failure saying what it returned."""
        if isinstance(raw, tuple) and len(raw) == 2:
            return raw
        raise self.fail(
            case,
            f"should return (out, cache), as a cs231n forward does, but returned {describe_result(raw)}",
            expected="(out, cache)",
            seen=raw,
        )

    def dispatch_backward(self, case: PoolCase, args: dict[str, Any], state: Any, dout: Any) -> Any:
        if self.mode == "layer":
            return state.backward(dout)
        if self.mode == "cs231n":
            return self.backward(dout, state)
        return self.backward(dout, args["x"], **self.keywords(case.kwargs))

    def describe(self, case: PoolCase) -> str:
        kwargs = format_kwargs(self.keywords(case.kwargs))
        if self.mode == "function":
            return f"{self.name}(x, {kwargs})"
        if self.mode == "class":
            return f"{self.name}({kwargs})(x)"
        if self.mode == "layer":
            return f"{self.name}({kwargs}).forward(x)"
        if self.mode == "autograd":
            return f"{self.name}.apply(x, {', '.join(repr(a) for a in positional(self.kind, case.kwargs))})"
        if self.mode == "cs231n":
            return f"{self.name}(x, {self.pool_param(case)!r})"
        return f"{self.name}(x)"

    def expected_shape(self, case: PoolCase) -> tuple[tuple[int, ...], str]:
        return case.output_shape(), shape_formula(case.params)

    def check_shape(self, case: PoolCase, out: torch.Tensor, *, on: str = "") -> None:
        """Fail unless ``out`` has the expected shape; where the call leaves out the stride, the
        message says what that means (the most common pooling mistake: a stride of 1)."""
        expected, formula = self.expected_shape(case)
        if tuple(out.shape) != expected:
            raise self.fail(
                case,
                f"{on}output shape should be {format_shape(expected)} ({formula}) but was "
                f"{format_shape(out.shape)}{_stride_default_note(case) if self.mode != 'cs231n' else ''}",
                expected=expected,
                seen=tuple(out.shape),
            )

    def reference(self, case: PoolCase, **tensors: torch.Tensor) -> torch.Tensor:
        return torch_pool(self.kind, tensors.get("x", case.x), case.kwargs)

    def gradient_tolerance(
        self, case: PoolCase, expected: torch.Tensor, reference: torch.Tensor
    ) -> tuple[torch.Tensor, int]:
        return expected.abs() + 2, _terms(case)

    def error_reason(self, case: PoolCase) -> str:
        if case.error == "padding":
            return "torch refuses a padding over half the kernel size"
        return "torch refuses a stride of zero"

    def hints(self, case: PoolCase) -> tuple[str, ...]:
        form = {4: "NCHW", 3: "CHW"}.get(case.x.dim(), "HW")
        return window_hints(self.supports, form, case.kwargs, case.params.kernel, pool=True)


# ----------------------------------------------------------------------------------------------
# References


def torch_pool(kind: str, x: torch.Tensor, kwargs: dict[str, Any]) -> Any:
    """torch's pooling of ``x`` with ``kwargs`` (also for ``(H, W)`` inputs, which torch refuses)."""
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    if x.dim() == 2:
        out = fn(x.unsqueeze(0), **kwargs)
        return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)
    return fn(x, **kwargs)


def _stride_default_note(case: PoolCase) -> str:
    """``: the call omits stride, and an omitted stride means stride = kernel_size (2 here)`` where the
    call leaves the stride out (or passes None), else ``""``."""
    stride = case.kwargs.get("stride", ())
    if stride is not None and stride != ():
        return ""
    kernel = case.params.kernel
    size = kernel[0] if kernel[0] == kernel[1] else kernel
    given = "omits stride, and an omitted stride" if "stride" not in case.kwargs else "passes stride=None, which"
    return f": the call {given} means stride = kernel_size ({size} here)"


def shape_formula(params: PoolParams) -> str:
    """The output-size formula in the words of torch's documentation, for these arguments."""
    window = "k" if params.dilation == (1, 1) else "d*(k - 1) - 1"
    inner = f"(H + 2p - {window})/s"
    if params.ceil_mode:
        return f"H_out = ceil({inner}) + 1, less one if the last window would start in the right padding"
    return f"H_out = floor({inner}) + 1"


def pool_windows(x: torch.Tensor, params: PoolParams, fill: float) -> torch.Tensor:
    """``(..., H_out, W_out, kh*kw)``: the window of every output, padding (and ceil_mode's
    overhang) filled with ``fill``."""
    height, width = x.shape[-2:]
    h_out, w_out = params.output_size(height, width)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = params.kernel, params.stride, params.padding, params.dilation
    need_h = max(height + 2 * ph, (h_out - 1) * sh + dh * (kh - 1) + 1)
    need_w = max(width + 2 * pw, (w_out - 1) * sw + dw * (kw - 1) + 1)
    canvas = x.new_full((*x.shape[:-2], need_h, need_w), fill)
    canvas[..., ph : ph + height, pw : pw + width] = x
    rows = (torch.arange(h_out) * sh)[:, None] + torch.arange(kh) * dh
    cols = (torch.arange(w_out) * sw)[:, None] + torch.arange(kw) * dw
    windows = canvas[..., rows[:, None, :, None], cols[None, :, None, :]]
    return windows.reshape(*windows.shape[:-2], kh * kw)


def _avg_bound(x: torch.Tensor, kwargs: dict[str, Any]) -> torch.Tensor:
    """Average pooling of |x|: bounds the magnitudes an average sums."""
    return torch_pool("avg", x.abs(), {k: v for k, v in kwargs.items() if k != "dilation"})


def _terms(case: PoolCase) -> int:
    return case.params.kernel[0] * case.params.kernel[1]


def _compare(
    ctx: _Ctx,
    case: PoolCase,
    seen: torch.Tensor,
    expected: torch.Tensor,
    *,
    what: str,
    bound: torch.Tensor | None = None,
    inputs: dict[str, Any] | None = None,
) -> None:
    """Fail unless ``seen`` equals ``expected`` (max: exactly; avg: within tolerance)."""
    exact = ctx.kind == "max"
    ctx.compare(case, seen, expected, what=what, exact=exact, bound=bound, terms=_terms(case) + 2, inputs=inputs)


# ----------------------------------------------------------------------------------------------
# Properties


def _matches_torch(ctx: _Ctx, case: PoolCase) -> None:
    out = ctx.call(case)
    expected = torch_pool(ctx.kind, case.x, case.kwargs)
    bound = _avg_bound(case.x, case.kwargs) if ctx.kind == "avg" else None
    _compare(ctx, case, out, expected, what=f"the output should equal {ctx.torch_name}'s", bound=bound)


def _window_membership(ctx: _Ctx, case: PoolCase) -> None:
    out = ctx.call_shaped(case)
    windows = pool_windows(case.x, case.params, float("-inf"))
    member = (windows == out.detach().to(case.x.dtype).unsqueeze(-1)).any(-1)
    if not bool(member.all()):
        where = first_index(~member)
        value = format_scalar(out[where])
        raise ctx.fail(
            case,
            f"output{list(where)} = {value} is not one of the values of its window "
            f"{format_tensor(windows[where])} (padding counts as -inf); max pooling must return "
            "one of the values of each window, its largest",
            expected=windows[where],
            seen=out.detach()[where],
        )


def _constant(ctx: _Ctx, case: PoolCase, value: float) -> None:
    x = torch.full_like(case.x, value)
    case = replace(case, x=x)
    out = ctx.call_shaped(case)
    expected = torch.full(case.output_shape(), value, dtype=x.dtype)
    what = f"a constant input (every element {format_value(value)}) should give that constant everywhere"
    _compare(ctx, case, out, expected, what=what, bound=expected.abs())


def _max_ge_avg(ctx: _Ctx, case: PoolCase) -> None:
    out = ctx.call_shaped(case)
    shared = {k: v for k, v in case.kwargs.items() if k in ("kernel_size", "stride", "padding", "ceil_mode")}
    if ctx.kind == "max":
        highs, lows = out.detach(), torch_pool("avg", case.x, shared)
    else:
        highs, lows = torch_pool("max", case.x, shared), out.detach()
    highs = highs.to(case.x.dtype)
    lows = lows.to(case.x.dtype)
    slack = mismatch(lows, highs, bound=_avg_bound(case.x, shared), terms=_terms(case) + 2)
    below = (highs < lows) & slack
    if bool(below.any()):
        where = first_index(below)
        hi, lo = format_scalar(highs[where]), format_scalar(lows[where])
        if ctx.kind == "max":
            problem = (
                f"max pooling can never be below average pooling without padding, but output"
                f"{list(where)} = {hi} is below the window's average {lo}"
            )
        else:
            problem = (
                f"average pooling can never exceed max pooling without padding, but output"
                f"{list(where)} = {lo} is above the window's maximum {hi}"
            )
        raise ctx.fail(case, problem, expected=highs if ctx.kind == "avg" else lows, seen=out.detach())


def _linearity(ctx: _Ctx, case: PoolCase, y: torch.Tensor, a: float, b: float) -> None:
    both = replace(case, x=a * case.x + b * y)
    inputs = {"y": y, "a": a, "b": b}
    fx = ctx.call_shaped(case)
    fy = ctx.call_shaped(replace(case, x=y), on="on y: ")
    combined = ctx.call_shaped(both, on="on a*x + b*y: ")
    bound = abs(a) * _avg_bound(case.x, case.kwargs) + abs(b) * _avg_bound(y, case.kwargs)
    expected = (a * fx + b * fy).detach()
    what = (
        f"average pooling is linear, so {ctx.name}(a*x + b*y) should equal a*{ctx.name}(x) + b*{ctx.name}(y)"
    )
    _compare(ctx, case, combined.detach(), expected.to(combined.dtype), what=what, bound=bound, inputs=inputs)


def _add_constant(ctx: _Ctx, case: PoolCase, c: float) -> None:
    fx = ctx.call_shaped(case)
    shifted = ctx.call_shaped(replace(case, x=case.x + c), on="on x + c: ")
    what = f"max pooling commutes with adding a constant, so {ctx.name}(x + c) should equal {ctx.name}(x) + c"
    _compare(ctx, case, shifted.detach(), (fx + c).detach(), what=what, inputs={"c": c})


def _positive_scale(ctx: _Ctx, case: PoolCase, a: float) -> None:
    fx = ctx.call_shaped(case)
    scaled = ctx.call_shaped(replace(case, x=case.x * a), on="on a*x: ")
    what = (
        f"max pooling commutes with scaling by a positive number, so {ctx.name}(a*x) should equal "
        f"a*{ctx.name}(x)"
    )
    _compare(ctx, case, scaled.detach(), (fx * a).detach(), what=what, inputs={"a": a})


def _return_indices(ctx: _Ctx, case: PoolCase) -> None:
    kwargs = {**case.kwargs, "return_indices": True}
    shown = replace(case, kwargs=kwargs)
    try:
        raw, _ = ctx.invoke(shown)
    except Exception as exc:
        if reraised(exc):
            raise
        raise ctx.raised(shown, exc) from exc
    pair = [ctx.boundary.incoming(o, "image") for o in raw] if isinstance(raw, tuple | list) and len(raw) == 2 else []
    if len(pair) != 2 or any(o is None for o in pair):
        kind = ctx.boundary.kind()
        raise ctx.fail(
            shown,
            f"should return a pair (output, indices) of {kind}s but returned {describe_result(raw)}",
            expected="(output, indices)",
            seen=raw,
        )
    values, indices = pair
    _compare(
        ctx,
        shown,
        values,
        torch_pool("max", case.x, case.kwargs),
        what=f"the output should equal {ctx.torch_name}'s",
    )
    if indices.shape != values.shape or indices.dtype.is_floating_point:
        raise ctx.fail(
            shown,
            f"indices should be an integer tensor of shape {format_shape(values.shape)}, "
            f"but were a {format_shape(indices.shape)} {indices.dtype} tensor",
            expected=tuple(values.shape),
            seen=tuple(indices.shape),
        )
    plane = case.x.shape[-2] * case.x.shape[-1]
    # windows made only of padding (possible with dilation) have no meaningful index
    real = pool_windows(torch.ones_like(case.x, memory_format=torch.contiguous_format), case.params, 0.0).any(
        -1
    )
    flat_idx = indices.detach().long()
    in_range = (flat_idx >= 0) & (flat_idx < plane)
    if bool((real & ~in_range).any()):
        where = first_index(real & ~in_range)
        raise ctx.fail(
            shown,
            f"indices should lie in 0 ... H*W - 1 = {plane - 1} (positions in the flattened "
            f"input plane) but indices{list(where)} is {int(flat_idx[where])}",
            seen=indices,
        )
    safe = torch.where(real, flat_idx, torch.zeros_like(flat_idx))
    gathered = case.x.flatten(-2).gather(-1, safe.flatten(-2)).reshape(values.shape)
    bad = mismatch(gathered, values.detach().to(case.x.dtype), exact=True) & real
    if bool(bad.any()):
        raise ctx.fail(
            shown,
            f"gathering x at the returned indices should reproduce the output, but it "
            f"{describe_mismatch(gathered, values.detach(), bad)}",
            expected=values,
            seen=gathered,
        )


def _special_values(ctx: _Ctx, case: PoolCase) -> None:
    out = ctx.call(case)
    expected = torch_pool(ctx.kind, case.x, case.kwargs)
    bound = _avg_bound(case.x, case.kwargs) if ctx.kind == "avg" else None
    _compare(
        ctx,
        case,
        out,
        expected,
        bound=bound,
        what=f"with NaN and -inf in the input the output should equal {ctx.torch_name}'s (NaN "
        "propagates, a window of -inf gives -inf)",
    )


def _precision(ctx: _Ctx, case: PoolCase) -> None:
    out = ctx.call(case)
    expected = torch_pool(ctx.kind, case.x, case.kwargs)
    bound = _avg_bound(case.x, case.kwargs) if ctx.kind == "avg" else None
    ctx.compare(
        case,
        out,
        expected,
        what=f"with float64 values that float32 cannot hold (quarters plus multiples of 2**-30) the output "
        f"should equal {ctx.torch_name}'s within float64 rounding (float32 arithmetic rounds them away)",
        exact=ctx.kind == "max",
        bound=bound,
        terms=_terms(case) + 2,
        strict=True,
    )


def _gradient_ties(ctx: _Ctx, case: PoolCase) -> None:
    """``gradient_ties``: where a window's maximum is tied, its gradient goes, in total, to maximal
    elements (torch gives it all to one; an even split, or any other, is accepted): no element that
    is the maximum of no window containing it gets any, and each window's gradients (or, where
    windows overlap, each plane's) add up to its upstream weights."""
    found = implementation_gradients(ctx, case)
    if found is None:
        return
    weights, grads = found
    x = case.x
    dx = grads["x"].detach().to(x.dtype)
    if tuple(dx.shape) != tuple(x.shape):
        raise ctx.fail(
            case,
            f"the gradient with respect to x should have x's shape {format_shape(x.shape)} but had "
            f"{format_shape(dx.shape)}",
            expected=tuple(x.shape),
            seen=tuple(dx.shape),
        )
    if x.numel() == 0:
        return
    params = case.params
    height, width = x.shape[-2:]
    plane = height * width
    planes = x.reshape(-1, height, width)
    windows = pool_windows(planes, params, float("-inf"))
    where = torch.arange(plane, dtype=torch.float64).reshape(height, width).expand_as(planes)
    slots = pool_windows(where, params, float(plane)).long()  # padding: the slot past the plane
    top = windows == windows.amax(-1, keepdim=True)
    count = planes.shape[0]
    maximal = torch.zeros(count, plane + 1, dtype=torch.bool)
    maximal.scatter_(1, torch.where(top, slots, plane).reshape(count, -1), True)
    maximal = maximal[:, :plane].reshape(x.shape)
    stray = (dx != 0) & ~maximal
    if bool(stray.any()):
        at = first_index(stray)
        raise ctx.fail(
            case,
            f"the gradient should go only to elements that are the maximum of a window containing them, but "
            f"x{list(at)} = {format_scalar(x[at])}, the maximum of no window, got {format_scalar(dx[at])}",
            expected=0.0,
            seen=dx,
        )
    padded = torch.cat([dx.reshape(count, plane), dx.new_zeros(count, 1)], dim=1)
    disjoint = params.dilation == (1, 1) and all(params.stride[i] >= params.kernel[i] for i in range(2))
    if disjoint:
        got = padded.gather(1, slots.reshape(count, -1)).reshape(windows.shape).sum(-1)
        owed = weights.to(x.dtype).reshape(got.shape)
        what = "window"
    else:
        got = padded.sum(1)
        owed = weights.to(x.dtype).reshape(count, -1).sum(1)
        what = "plane"
    bad = mismatch(got, owed)
    if bool(bad.any()):
        at = first_index(bad)
        shown = f" of values {format_tensor(windows[at])}" if disjoint else ""
        raise ctx.fail(
            case,
            f"each window's upstream weight should go, in total, to its maximal elements (torch gives it all to "
            f"one of them), but the gradients of {what} {list(at)}{shown} add up to {format_scalar(got[at])} "
            f"where its upstream weights add up to {format_scalar(owed[at])}",
            expected=owed,
            seen=got,
        )


# ----------------------------------------------------------------------------------------------
# Catalogues


def _plain(fixed: dict[str, Any]) -> bool:
    params = PoolParams.from_kwargs(fixed)
    return params.padding == (0, 0) and params.dilation == (1, 1) and params.divisor_override is None


def _avg_constant_applies(fixed: dict[str, Any]) -> bool:
    params = PoolParams.from_kwargs(fixed)
    return params.divisor_override is None and (params.padding == (0, 0) or not params.count_include_pad)


@st.composite
def _two_tensors(draw: Any, ctx: _Ctx) -> tuple[PoolCase, torch.Tensor, float, float]:
    case = draw(pool_cases("avg", ctx.supports, fixed=ctx.fixed))
    y = draw(tensors(tuple(case.x.shape), case.x.dtype))
    return case, y, draw(COEFFICIENTS), draw(COEFFICIENTS)


def _catalogue(kind: str) -> Catalogue:
    """The catalogue of ``check_{kind}_pool2d`` (``kind``: ``"max"`` or ``"avg"``), in the order of
    the table above."""

    def cases(**options: Any) -> Draw:
        return lambda ctx: pool_cases(kind, ctx.supports, fixed=ctx.fixed, **options)

    def with_(extra: st.SearchStrategy, **options: Any) -> Draw:
        return lambda ctx: st.tuples(pool_cases(kind, ctx.supports, fixed=ctx.fixed, **options), extra)

    max_ge_avg = Property(
        "max_ge_avg",
        "max pooling >= average pooling without padding",
        one(cases(padding=False, dilation=False, divisor=False)),
        _max_ge_avg,
        applies=_plain,
    )
    special_values = Property(
        "special_values",
        "NaN and -inf handled as torch does",
        one(cases(special=True)),
        _special_values,
        axis="nan_inf",
    )
    if kind == "max":
        own = [
            Property(
                "window_membership",
                "every output is an element of its window",
                one(cases()),
                _window_membership,
            ),
            Property("constant", "a constant input stays that constant", with_(FINITE), _constant),
            max_ge_avg,
            Property("add_constant", "f(x + c) == f(x) + c", with_(SHIFTS), _add_constant),
            Property("positive_scale", "f(a*x) == a*f(x) for a > 0", with_(POSITIVE), _positive_scale),
        ]
        extended = [
            Property(
                "return_indices",
                "gathering x at the returned indices gives the output",
                one(cases()),
                _return_indices,
                axis="return_indices",
                varies_args=True,
            ),
            special_values,
        ]
    else:
        own = [
            Property(
                "constant",
                "a constant input stays that constant (no padding)",
                with_(FINITE, padding=False, divisor=False),
                _constant,
                applies=_avg_constant_applies,
            ),
            max_ge_avg,
            Property("linearity", "f(a*x + b*y) == a*f(x) + b*f(y)", _two_tensors, _linearity),
        ]
        extended = [special_values]
    own_gradient = [
        Property(
            "gradient_ties",
            "tied maxima: each window's gradient goes, in total, to maximal elements",
            one(cases(dtype=torch.float64, tied=True)),
            _gradient_ties,
        )
    ]
    return tensor_catalogue(
        f"check_{kind}_pool2d",
        cases(),
        shape="output shape equals the conv-arithmetic formula",
        torch_name=f"torch.nn.functional.{kind}_pool2d",
        matches_torch=_matches_torch,
        own=own,
        precision=_precision,
        precision_cases=cases(dtype=torch.float64, fine=True),
        gradient_cases=cases(dtype=torch.float64, unique=(kind == "max")),
        own_gradient=own_gradient if kind == "max" else (),
        error_cases=lambda ctx: pool_error_cases(kind, ctx.supports),
        errors="stride 0 and padding over half the kernel raise",
        error_kinds=pool_error_kinds,
        extended=extended,
    )


MAX_POOL2D = _catalogue("max")
AVG_POOL2D = _catalogue("avg")


def check_max_pool2d(
    fn: Any,
    *,
    supports: SupportsArg = None,
    backward: Callable[..., Any] | None = None,
    only: Names = None,
    skip: str | Iterable[str] = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check a max pooling implementation against every property in scope (module docstring).

    Args:
        fn: what computes it, called as ``supports.calling`` says: a function with
            ``torch.nn.functional.max_pool2d``'s signature, an ``nn.Module`` layer instance or
            class, an ``autograd.Function``; a cs231n forward; a layer class with a forward method.
        supports: what ``fn`` declares (:class:`~cnngrade.properties.supports.Supports`; default:
            torch's core: NCHW and CHW tensors, int or pair arguments, any error for illegal ones).
        backward: its backward, where it has one of its own (a function's: ``bwd(dout, x,
            **kwargs)``; a cs231n forward's: ``bwd(dout, cache)``).
        only / skip: property names to run / leave out (see :func:`property_names`).
        max_examples: examples per property (default: ``$CNNGRADE_MAX_EXAMPLES``, else the profile's).
        profile: a Hypothesis profile name (``"ci"``, ``"dev"``) instead of the active one.

    Returns:
        The names of the properties that hold (every property is run).

    Raises:
        PropertyFailed: the property that fails, with the smallest counterexample; where several
            fail, one whose message is the table of every property (and ``failures``, all of them).
        UsageError: ``fn`` or the declaration cannot be checked as given.
    """
    return check_max_pool2d.conform(  # type: ignore[attr-defined]
        fn, supports=supports, backward=backward, only=only, skip=skip, max_examples=max_examples, profile=profile
    ).raise_for_failures()


def check_avg_pool2d(
    fn: Any,
    *,
    supports: SupportsArg = None,
    backward: Callable[..., Any] | None = None,
    only: Names = None,
    skip: str | Iterable[str] = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> tuple[str, ...]:
    """Check an average pooling implementation (``count_include_pad=True`` by default, as torch);
    arguments as :func:`check_max_pool2d`."""
    return check_avg_pool2d.conform(  # type: ignore[attr-defined]
        fn, supports=supports, backward=backward, only=only, skip=skip, max_examples=max_examples, profile=profile
    ).raise_for_failures()


expose(check_max_pool2d, MAX_POOL2D, tensor_context(_Ctx, "max"), fixed_of=instance_arguments(_Ctx, "max"))
expose(check_avg_pool2d, AVG_POOL2D, tensor_context(_Ctx, "avg"), fixed_of=instance_arguments(_Ctx, "avg"))
