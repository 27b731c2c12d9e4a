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
:func:`check_conv2d_unfold`) (:mod:`.convolution`); :func:`check_conv_output_size`,
:func:`check_conv2d_param_count`, :func:`check_linear_param_count` (:mod:`.arithmetic`).
Strategies: :mod:`.strategies`.

The machinery, one module each: :mod:`.supports` (:class:`Supports`), :mod:`.failure`
(:class:`PropertyFailed`), :mod:`.formatting`, :mod:`.comparison` (tolerances), :mod:`.calling`
(adapting and calling an implementation), :mod:`.catalogue` (properties and their selection),
:mod:`.context` (one check of one implementation), :mod:`.shared` (what every tensor suite
shares), :mod:`.running` (the runner, :func:`property_names`).

Public: this package's names, :mod:`.strategies` and :mod:`.profiles`. The other modules are its
internals: import from ``cnngrade.properties``, not from them.
"""

from __future__ import annotations

from cnngrade.properties import strategies
from cnngrade.properties.arithmetic import (
    check_conv2d_param_count,
    check_conv_output_size,
    check_linear_param_count,
)
from cnngrade.properties.convolution import check_conv2d, check_conv2d_unfold, check_fold, check_unfold
from cnngrade.properties.failure import PropertyFailed
from cnngrade.properties.pooling import check_avg_pool2d, check_max_pool2d
from cnngrade.properties.profiles import active_settings, load_profile, register_profiles
from cnngrade.properties.running import property_names
from cnngrade.properties.supports import Supports

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
