r"""Comparison of an implementation's tensor with the expected one, with dtype-aware tolerances.

:func:`mismatch` marks the positions where ``seen`` differs from ``expected``. Exact comparison
(for code that only moves values: max pooling, unfold) asks for equal values, NaN equal to NaN.
Otherwise a position agrees when

.. math::

    |\text{seen} - \text{expected}| \le \text{atol} + \text{rtol} \cdot |\text{expected}|
        + 2 \cdot \text{terms} \cdot \varepsilon \cdot \text{bound}

with ``(rtol, atol)`` ``torch.testing.assert_close``'s defaults for the dtype
(:data:`DEFAULT_TOLERANCES`), :math:`\varepsilon` the dtype's machine epsilon, and ``bound`` a
bound on the magnitudes a sum of ``terms`` products adds up (e.g. the same computation on
:math:`|x|`): the rounding such a sum may accumulate, whatever the order of its additions.
Infinite expected values must be matched exactly. ``strict`` drops assert_close's part: only the
rounding of the sum is allowed (for float64 results that float32 arithmetic would round further).

:func:`describe_mismatch` words the result for a message, from the first differing position
(:func:`first_index`, row-major).
"""

from __future__ import annotations

import numpy as np
import torch

from cnngrade.properties.formatting import format_number, format_shape, format_tensor

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
    strict: bool = False,
) -> torch.Tensor:
    """Boolean mask of the positions where ``seen`` differs from ``expected``.

    ``exact``: equal values (NaN equals NaN). Otherwise ``torch.testing.assert_close``'s
    tolerances for the dtype, widened by the rounding a sum of ``terms`` products can
    accumulate: ``|seen - expected| <= atol + rtol*|expected| + 2*terms*eps*bound``, where
    ``bound`` is a bound on the magnitudes summed (e.g. the result computed on ``|x|``);
    ``strict``: ``|seen - expected| <= 2*terms*eps*bound`` only.
    """
    seen = seen.detach()
    expected = expected.detach().to(seen.dtype) if seen.is_floating_point() else expected.detach()
    same = seen == expected
    if seen.is_floating_point():
        same = same | (torch.isnan(seen) & torch.isnan(expected))
    if exact or not seen.is_floating_point():
        return ~same
    rtol, atol = (0.0, 0.0) if strict else DEFAULT_TOLERANCES.get(seen.dtype, (1e-7, 1e-7))
    finite = torch.isfinite(expected)
    allowed = atol + rtol * torch.where(finite, expected.abs(), torch.zeros_like(expected))
    if bound is not None:
        bound = torch.nan_to_num(bound.detach().to(seen.dtype).abs(), nan=0.0, posinf=0.0, neginf=0.0)
        allowed = allowed + 2 * terms * torch.finfo(seen.dtype).eps * bound
    close = finite & ((seen - expected).abs() <= allowed)
    return ~(same | close)


def first_index(mask: torch.Tensor) -> tuple[int, ...]:
    """The index of the first ``True`` of ``mask`` (row-major)."""
    flat = int(mask.reshape(-1).nonzero()[0, 0])
    return tuple(int(i) for i in np.unravel_index(flat, tuple(mask.shape)))


def describe_mismatch(seen: torch.Tensor, expected: torch.Tensor, bad: torch.Tensor) -> str:
    """``differs at 2 of 4 positions, first at index (0, 0, 1, 0): expected 5. but got 4.``"""
    where = first_index(bad)
    dtype = seen.dtype
    e = format_number(expected.detach()[where].item(), dtype)
    s = format_number(seen.detach()[where].item(), dtype)
    text = (
        f"differs at {int(bad.sum())} of {bad.numel()} positions, first at index "
        f"{format_shape(where)}: expected {e} but got {s}"
    )
    if expected.numel() <= 36:
        text += f" (expected {format_tensor(expected)}, got {format_tensor(seen)})"
    return text
