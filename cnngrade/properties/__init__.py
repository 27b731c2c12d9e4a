"""Reusable Hypothesis property suites for pooling, unfold / fold and convolution layers.

Check your own implementation, declared as it is (:class:`Supports`), and read the table of every
property (``cnngrade conform FILE::NAME --op max_pool2d`` prints the same)::

    from cnngrade.properties import Supports, conform

    table = conform("max_pool2d", my_max_pool, supports=Supports(array="numpy", layouts="NHWC"),
                    backward=my_max_pool_backward)
    print(table)          # property, pass / FAIL / out of scope, the shrunk counterexample of each failure

From a test file, a ``check_*`` raises :class:`PropertyFailed` (an ``AssertionError``) after running
every property: the failure, or, where several fail, the table of them all::

    from cnngrade.properties import check_max_pool2d

    def test_my_pool():
        check_max_pool2d(my_max_pool2d)

or one pytest test per property (:func:`conformance_tests`, or ``only=`` with
:func:`property_names`)::

    test_my_pool = conformance_tests("max_pool2d", my_max_pool2d)

Every ``check_*`` takes the implementation, and keyword arguments ``supports=`` (what it
declares: how it is called, the argument space, what must hold; see :class:`Supports`, whose
defaults are torch's core, so that ``torch.nn.functional``'s functions pass with them),
``backward=`` (its own backward, where it has one), ``only=`` / ``skip=`` (property names),
``max_examples=`` and ``profile=`` (see :mod:`cnngrade.properties.profiles`). It returns the names
of the properties that hold. A failure reads::

    my_max_pool2d(x, kernel_size=1, stride=2, padding=0) on a (1, 1, 1, 2) float32 tensor: output
    shape should be (1, 1, 1, 1) (H_out = floor((H + 2p - k)/s) + 1) but was (1, 1, 1, 2).
    Smallest failing input: x = tensor([[[[0., 0.]]]]). (property: shape)

Checks: :func:`check_max_pool2d`, :func:`check_avg_pool2d` (:mod:`.pooling`);
:func:`check_unfold`, :func:`check_fold`, :func:`check_conv2d` (alias
:func:`check_conv2d_unfold`) (:mod:`.convolution`); :func:`check_conv_output_size`,
:func:`check_conv2d_param_count`, :func:`check_linear_param_count` (:mod:`.arithmetic`).
Strategies: :mod:`.strategies`.

The machinery, one module each: :mod:`.supports` (:class:`Supports`, the declaration),
:mod:`.failure` (:class:`PropertyFailed`, :class:`UsageError`), :mod:`.formatting`,
:mod:`.comparison` (tolerances), :mod:`.boundary` (numpy arrays and layouts),
:mod:`.calling` (the kinds of implementation), :mod:`.catalogue` (properties and their
selection), :mod:`.context` (one check of one implementation), :mod:`.shared` (what every tensor
suite shares), :mod:`.gradients` (backward passes against torch's), :mod:`.hints`,
:mod:`.running` (the runner, :func:`property_names`), :mod:`.table` (:class:`Conformance`),
:mod:`.conformance` (:func:`conform`, :func:`conformance_tests`, the operations by name).

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
from cnngrade.properties.conformance import OPERATIONS, conform, conformance_tests
from cnngrade.properties.convolution import check_conv2d, check_conv2d_unfold, check_fold, check_unfold
from cnngrade.properties.failure import PropertyFailed, UsageError
from cnngrade.properties.pooling import check_avg_pool2d, check_max_pool2d
from cnngrade.properties.profiles import active_settings, load_profile, register_profiles
from cnngrade.properties.running import property_names
from cnngrade.properties.supports import Supports
from cnngrade.properties.table import Conformance, Row

__all__ = [
    "OPERATIONS",
    "Conformance",
    "PropertyFailed",
    "Row",
    "Supports",
    "UsageError",
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
    "conform",
    "conformance_tests",
    "load_profile",
    "property_names",
    "register_profiles",
    "strategies",
]
