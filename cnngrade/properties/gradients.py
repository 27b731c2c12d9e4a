r"""An implementation's gradient, from its own backward or through autograd, against torch's.

For the loss :math:`L = \sum w \odot f(x, \ldots)`, with distinct upstream weights ``w`` from 1 to 2
over the output (:func:`upstream`), the gradient with respect to each input tensor ``t`` is torch's
vector-Jacobian product :math:`\partial L / \partial t`. :func:`implementation_gradients` gets the
implementation's own:

* from its backward, where it comes with one (``backward=`` for a function, ``bwd(dout, x,
  **kwargs)``; a cs231n pair's ``bwd(dout, cache)``; a layer class's ``backward(dout)`` method):
  called with ``dout = w`` in its own form, after the forward call on the same inputs; it returns
  the gradient of the first tensor argument, or a tuple of them in the order of the arguments
  (a convolution: ``(dx, dw, db)``);
* else through autograd, where its output carries a graph (torch code, ``nn.Module``\ s,
  ``autograd.Function``\ s);
* else there is nothing to compare: the example is not judged (see
  :class:`~cnngrade.properties.context.Tally`), and a property none of whose examples could be
  judged is reported out of scope.

:func:`gradient_property` compares them with torch's, in float64, within the suite's tolerance.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from cnngrade.properties.calling import exception_text, reraised
from cnngrade.properties.comparison import describe_mismatch, mismatch
from cnngrade.properties.context import Case, CheckContext
from cnngrade.properties.formatting import describe_result, format_shape

#: why an example's gradient cannot be compared
NO_GRADIENT = "no gradient to compare: the output carries no autograd graph and no backward is declared"


def upstream(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Distinct weights to backpropagate: 1 ... 2 over the output."""
    count = int(torch.Size(shape).numel())
    return torch.linspace(1, 2, count, dtype=dtype).reshape(shape)


def implementation_gradients(
    ctx: CheckContext[Any], case: Case
) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
    """``(w, gradients)``: the upstream weights and the implementation's gradient of ``sum(w *
    output)`` with respect to each input tensor it gives (by argument name, in the checks' form);
    None, the example noted as not judged, when it has no gradient to give."""
    if ctx.has_backward:
        return _own_backward(ctx, case)
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in ctx.tensors(case).items()}
    out = ctx.call(replace(case, **leaves))
    if not out.requires_grad:
        ctx.tally.outside(NO_GRADIENT)
        return None
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
    return weights, {
        name: torch.zeros_like(leaves[name]) if grad is None else grad for name, grad in zip(names, grads, strict=True)
    }


def _own_backward(ctx: CheckContext[Any], case: Case) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    out, state, args = ctx.call_with_state(case)
    ctx.check_shape(case, out)
    weights = upstream(tuple(out.shape), out.dtype)
    dout = ctx.boundary.outgoing(weights, ctx.output_role)
    try:
        raw = ctx.dispatch_backward(case, args, state, dout)
    except Exception as exc:
        if reraised(exc):
            raise
        raise ctx.raised(case, exc, on="its backward ", what="the gradients") from exc
    values = list(raw) if isinstance(raw, tuple | list) else [raw]
    names = list(ctx.tensors(case))
    grads = {}
    for name, value in zip(names, values, strict=False):
        grad = ctx.boundary.incoming(value, ctx.roles.get(name, "image"))
        if grad is None:
            raise ctx.fail(
                case,
                f"its backward should return the gradient with respect to {name} as "
                f"a{'n' if ctx.boundary.numpy else ''} {ctx.boundary.kind()}, but returned "
                f"{describe_result(value)} in its place",
                expected=f"d{name}",
                seen=value,
            )
        grads[name] = grad
    return weights, grads


def torch_gradients(
    ctx: CheckContext[Any], case: Case, weights: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """torch's output and gradients of ``sum(weights * output)`` for ``case``."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in ctx.tensors(case).items()}
    out = ctx.reference(case, **leaves)
    grads = torch.autograd.grad(out, list(leaves.values()), weights.to(out.dtype))
    return out, dict(zip(leaves, grads, strict=True))


def gradient_property(ctx: CheckContext[Any], case: Case) -> None:
    """``gradient``: the gradient with respect to every input tensor equals torch's (for the loss
    ``sum(w * output)``)."""
    found = implementation_gradients(ctx, case)
    if found is None:
        return
    weights, grads = found
    reference, expected_grads = torch_gradients(ctx, case, weights)
    for name, grad in grads.items():
        expected = expected_grads[name]
        if tuple(grad.shape) != tuple(expected.shape):
            raise ctx.fail(
                case,
                f"the gradient with respect to {name} should have {name}'s shape {format_shape(expected.shape)} "
                f"but had {format_shape(grad.shape)}",
                expected=tuple(expected.shape),
                seen=tuple(grad.shape),
            )
        grad = grad.detach().to(expected.dtype)
        bound, terms = ctx.gradient_tolerance(case, expected, reference)
        bad = mismatch(grad, expected, bound=bound, terms=terms)
        if bool(bad.any()):
            raise ctx.fail(
                case,
                f"the gradient with respect to {name} should equal torch's (for the loss "
                f"sum(w * output), weights w from 1 to 2), but it {describe_mismatch(grad, expected, bad)}",
                expected=expected,
                seen=grad,
            )
