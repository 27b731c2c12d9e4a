"""Reusable Hypothesis property suites for pooling, unfold / fold and convolution layers.

Validate your own implementation from any test file, in one line::

    from cnngrade.properties import check_max_pool2d

    def test_my_pool():
        check_max_pool2d(my_max_pool2d)          # raises PropertyFailed with the smallest counterexample

or one pytest test per property (the pytest-friendly form)::

    import pytest
    from cnngrade.properties import check_max_pool2d, property_names

    @pytest.mark.parametrize("prop", property_names(check_max_pool2d))
    def test_my_pool(prop):
        check_max_pool2d(my_max_pool2d, only=prop)

Every ``check_*`` takes the implementation (a function with ``torch.nn.functional``'s
signature, an ``nn.Module`` layer instance, or an ``nn.Module`` class), and keyword arguments
``supports=`` (what it supports beyond the lab's default, see :class:`Supports`), ``only=`` /
``skip=`` (property names), ``max_examples=`` and ``profile=`` (see
:mod:`cnngrade.properties.profiles`). It runs one Hypothesis test per property, in a fixed
order, returns the names of the properties checked, and raises :class:`PropertyFailed` (an
``AssertionError``) for the first that fails::

    my_max_pool2d(x, kernel_size=1, stride=2, padding=0) on a (1, 1, 1, 2) float32 tensor: output
    shape should be (1, 1, 1, 1) (H_out = floor((H + 2p - k)/s) + 1) but was (1, 1, 1, 2).
    Smallest failing input: x = tensor([[[[0., 0.]]]]). (property: shape)

Checks: :func:`check_max_pool2d`, :func:`check_avg_pool2d` (:mod:`.pooling`);
:func:`check_unfold`, :func:`check_fold`, :func:`check_conv2d` (alias
:func:`check_conv2d_unfold`), :func:`check_conv_output_size`, :func:`check_conv2d_param_count`,
:func:`check_linear_param_count` (:mod:`.convolution`). Strategies: :mod:`.strategies`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cnngrade.properties import strategies
from cnngrade.properties.convolution import (
    check_conv2d,
    check_conv2d_param_count,
    check_conv2d_unfold,
    check_conv_output_size,
    check_fold,
    check_linear_param_count,
    check_unfold,
)
from cnngrade.properties.core import PropertyFailed, Supports, as_supports
from cnngrade.properties.pooling import check_avg_pool2d, check_max_pool2d
from cnngrade.properties.profiles import active_settings, load_profile, register_profiles


def property_names(
    check: Callable[..., Any], supports: Supports | str | Iterable[str] | None = None, fn: Any = None
) -> tuple[str, ...]:
    """The names of the properties ``check`` runs with this ``supports`` declaration, in order
    (for ``@pytest.mark.parametrize``). Pass ``fn`` when it is an ``nn.Module`` instance: the
    properties that need other arguments than the layer's own are then left out."""
    fixed_names = getattr(check, "property_list", None)
    if fixed_names is not None:
        return tuple(fixed_names)
    catalogue = check.catalogue  # type: ignore[attr-defined]
    fixed = check.context(fn, supports).fixed if fn is not None else None  # type: ignore[attr-defined]
    return tuple(p.name for p in catalogue.applicable(as_supports(supports), fixed))


__all__ = [
    "PropertyFailed",
    "Supports",
    "active_settings",
    "check_avg_pool2d",
    "check_conv2d",
    "check_conv2d_param_count",
    "check_conv2d_unfold",
    "check_conv_output_size",
    "check_fold",
    "check_linear_param_count",
    "check_max_pool2d",
    "check_unfold",
    "load_profile",
    "property_names",
    "register_profiles",
    "strategies",
]
