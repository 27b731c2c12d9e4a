"""What every tensor suite shares: four of its properties, and the layout of its catalogue.

Every tensor suite (max / avg pooling, unfold, fold, conv2d) runs, in this order::

    shape          output shape = the suite's arithmetic (e.g. H_out = floor((H + 2p - k)/s) + 1)
    matches_torch  output = torch.nn.functional's, within the suite's tolerance
    no_mutation    the implementation, given the original tensors, leaves them unchanged
    ...            the suite's own properties
    gradient       d/dt sum(w * f(t)) = torch's, for every input tensor t, float64 cases,
                   w = linspace(1, 2) over the output (only if the output carries a gradient)
    errors         arguments torch refuses raise ValueError or RuntimeError (axis ``errors``;
                   not for a layer instance, whose arguments are fixed)
    ...            the suite's properties of further declared axes

:func:`tensor_catalogue` builds that catalogue from a suite's strategies and own properties;
:func:`shape_property`, :func:`no_mutation_property`, :func:`gradient_property` and
:func:`errors_property` are written against :class:`~cnngrade.properties.context.CheckContext`
only (``matches_torch`` compares with each suite's own tolerance, so each suite writes it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch

from cnngrade.properties.calling import exception_text, reraised
from cnngrade.properties.catalogue import Catalogue, Draw, Property, one
from cnngrade.properties.comparison import describe_mismatch, first_index, mismatch
from cnngrade.properties.context import Case, CheckContext
from cnngrade.properties.formatting import describe_result, format_scalar, format_shape


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


def tensor_catalogue(
    check: str,
    cases: Draw,
    *,
    shape: str,
    torch_name: str,
    matches_torch: Callable[..., None],
    own: Sequence[Property],
    gradient_cases: Draw,
    error_cases: Draw,
    errors: str,
    no_mutation: str = "the input is left unchanged",
    gradient: str = "float64 gradients equal torch's",
    extended: Sequence[Property] = (),
) -> Catalogue:
    """The catalogue of the tensor suite ``check``, in the order of the module docstring.

    ``cases(ctx)`` draws the cases of shape, matches_torch and no_mutation, ``gradient_cases(ctx)``
    the float64 ones of gradient, ``error_cases(ctx)`` those of errors. ``shape``, ``no_mutation``,
    ``gradient`` and ``errors`` are the properties' summaries; matches_torch's is
    ``equal to {torch_name}``. ``own`` come after no_mutation, ``extended`` after errors.
    """
    return Catalogue(
        check,
        [
            Property("shape", shape, one(cases), shape_property),
            Property("matches_torch", f"equal to {torch_name}", one(cases), matches_torch),
            Property("no_mutation", no_mutation, one(cases), no_mutation_property),
            *own,
            Property("gradient", gradient, one(gradient_cases), gradient_property),
            Property("errors", errors, one(error_cases), errors_property, axis="errors", varies_args=True),
            *extended,
        ],
    )
