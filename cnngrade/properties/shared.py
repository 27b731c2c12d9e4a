"""What every tensor suite shares: its common properties, and the layout of its catalogue.

Every tensor suite (max / avg pooling, unfold, fold, conv2d) runs, in this order::

    shape          output shape = the suite's arithmetic (e.g. H_out = floor((H + 2p - k)/s) + 1)
    matches_torch  output = torch.nn.functional's, within the suite's tolerance (in its dtype)
    no_mutation    the implementation, given the original tensors, leaves them unchanged
    ...            the suite's own properties
    precision      float64 inputs that float32 cannot hold: output = torch's within float64
                   rounding (float32 arithmetic fails it; needs float64 in ``dtypes``)
    gradient       d/dt sum(w * f(t)) = torch's, for every input tensor t, float64 cases,
                   w = linspace(1, 2) over the output; from the implementation's backward, or
                   autograd (out of scope where it has neither)
    ...            the suite's own gradient properties (max pooling: ties)
    dtype          the output's dtype is the declared one (the input's by default); its own row,
                   after the values, which are compared after casting
    errors         arguments torch refuses raise: any exception, or ValueError / RuntimeError as
                   declared (``errors``; not for a layer instance, whose arguments are fixed)
    ...            the suite's properties of further declared axes

:func:`tensor_catalogue` builds that catalogue from a suite's strategies and own properties;
:func:`shape_property`, :func:`no_mutation_property`, :func:`dtype_property` and
:func:`errors_property` are written against :class:`~cnngrade.properties.context.CheckContext`
only (``matches_torch`` and ``precision`` compare with each suite's own tolerance, so each suite
writes them; ``gradient`` is :mod:`.gradients`').
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from cnngrade.properties.boundary import as_tensor, snapshot
from cnngrade.properties.calling import exception_text, reraised
from cnngrade.properties.catalogue import Catalogue, Draw, Property, one
from cnngrade.properties.comparison import first_index, mismatch
from cnngrade.properties.context import Case, CheckContext
from cnngrade.properties.formatting import describe_result, format_scalar, format_shape
from cnngrade.properties.gradients import gradient_property
from cnngrade.properties.supports import Supports

#: why an illegal-argument example is not judged
NOT_IMPLEMENTED = "raised NotImplementedError for illegal arguments (outside the declaration)"


def shape_property(ctx: CheckContext[Any], case: Case) -> None:
    """``shape``: the output has the shape the arithmetic gives."""
    ctx.call_shaped(case)


def no_mutation_property(ctx: CheckContext[Any], case: Case) -> None:
    """``no_mutation``: the implementation, given the original tensors (in its form), leaves them unchanged."""
    args = ctx.outgoing(case, copies=False)
    before = {k: snapshot(v) for k, v in args.items() if v is not None}
    shown = replace(case, **{k: v.clone() for k, v in ctx.tensors(case).items()})
    try:
        ctx.invoke(case, args)
    except Exception as exc:
        if reraised(exc):
            raise
        raise ctx.raised(shown, exc) from exc
    for name, old_value in before.items():
        old, new = as_tensor(old_value), as_tensor(args[name])
        if new.shape != old.shape:
            raise ctx.fail(
                shown,
                f"it changed the shape of its {ctx.argument_word} {name} from {format_shape(old.shape)} to "
                f"{format_shape(new.shape)}; {ctx.must_not_modify}",
                expected=tuple(old.shape),
                seen=tuple(new.shape),
            )
        changed = mismatch(new, old, exact=True)
        if bool(changed.any()):
            where = first_index(changed)
            raise ctx.fail(
                shown,
                f"it modified its {ctx.argument_word} {name} ({int(changed.sum())} of {changed.numel()} "
                f"values changed, e.g. {name}{list(where)} was {format_scalar(old[where])} and is "
                f"now {format_scalar(new[where])}); {ctx.must_not_modify}",
                expected=old,
                seen=new.clone(),
            )


def dtype_property(ctx: CheckContext[Any], case: Case) -> None:
    """``dtype``: the output's dtype is the declared one (``output_dtype``: the input's by default)."""
    out = ctx.call(case)
    given = next(iter(ctx.tensors(case).values())).dtype
    expected = ctx.supports.expected_dtype(given)
    if expected is not None and out.dtype != expected:
        why = "the input's" if ctx.supports.output_dtype == "input" else "as declared"
        raise ctx.fail(
            case,
            f"the output dtype should be {_dtype_name(expected)} ({why}) but was {_dtype_name(out.dtype)}",
            expected=expected,
            seen=out.dtype,
        )


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def errors_property(ctx: CheckContext[Any], case: Case) -> None:
    """``errors``: arguments torch refuses make the implementation raise (any exception, or
    ValueError / RuntimeError as torch, as declared). A NotImplementedError there leaves the
    example out of scope: the arguments are outside the declaration."""
    reason = ctx.error_reason(case)
    torch_only = ctx.supports.errors == "torch"
    try:
        raw, _ = ctx.invoke(case)
    except Exception as exc:
        if reraised(exc):
            raise
        if isinstance(exc, NotImplementedError):
            ctx.tally.outside(NOT_IMPLEMENTED)
            return
        if not torch_only or isinstance(exc, ValueError | RuntimeError):
            return
        raise ctx.fail(
            case,
            f"it should raise a ValueError or RuntimeError ({reason}) but raised {exception_text(exc)}",
            expected="ValueError or RuntimeError",
            seen=exc,
        ) from exc
    raise ctx.fail(
        case,
        f"it should raise an error ({reason}) but returned {describe_result(raw)}",
        expected="ValueError or RuntimeError" if torch_only else "an exception",
        seen=raw,
    )


def tensor_catalogue(
    check: str,
    cases: Draw,
    *,
    shape: str,
    torch_name: str,
    matches_torch: Callable[..., None],
    own: Sequence[Property],
    precision: Callable[..., None],
    precision_cases: Draw,
    gradient_cases: Draw,
    error_cases: Draw,
    errors: str,
    error_kinds: Callable[[Supports], tuple[str, ...]],
    no_mutation: str = "the input is left unchanged",
    gradient: str = "float64 gradients equal torch's",
    own_gradient: Sequence[Property] = (),
    extended: Sequence[Property] = (),
) -> Catalogue:
    """The catalogue of the tensor suite ``check``, in the order of the module docstring.

    ``cases(ctx)`` draws the cases of shape, matches_torch, no_mutation and dtype,
    ``precision_cases(ctx)`` the float64 ones of precision, ``gradient_cases(ctx)`` those of
    gradient, ``error_cases(ctx)`` those of errors, whose kinds of illegal argument under a
    declaration ``error_kinds(supports)`` lists (none: errors is out of scope). ``shape``,
    ``no_mutation``, ``gradient`` and ``errors`` are the properties' summaries; matches_torch's is
    ``equal to {torch_name}``. ``own`` come after no_mutation, ``own_gradient`` after gradient,
    ``extended`` after errors.
    """
    return Catalogue(
        check,
        [
            Property("shape", shape, one(cases), shape_property),
            Property("matches_torch", f"equal to {torch_name}", one(cases), matches_torch),
            Property("no_mutation", no_mutation, one(cases), no_mutation_property),
            *own,
            Property(
                "precision",
                "float64 results within float64 rounding of torch's",
                one(precision_cases),
                precision,
                axis="checks_precision",
                off="needs float64 in dtypes and a declared output dtype",
            ),
            Property("gradient", gradient, one(gradient_cases), gradient_property),
            *own_gradient,
            Property(
                "dtype",
                "the output's dtype is the declared one",
                one(cases),
                dtype_property,
                axis="checks_dtype",
                off="output_dtype='any' or dtype_in_values declared",
            ),
            Property(
                "errors",
                errors,
                one(error_cases),
                errors_property,
                axis="checks_errors",
                off="errors='none' declared",
                needs=lambda s: None if error_kinds(s) else "the declaration leaves no illegal argument to pass",
                varies_args=True,
            ),
            *extended,
        ],
    )
