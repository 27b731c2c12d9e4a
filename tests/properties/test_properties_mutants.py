"""The property suites kill mutants of the reference pooling, unfold / fold and conv-math code.

Each file in ``mutants/`` is a copy of one reference function with one bug (marked ``# MUTANT``).
A full check must raise :class:`PropertyFailed` naming the first property the bug breaks (the
checks run their properties in a fixed order), and each further property listed must catch it
on its own (``only=``). Everything runs under the derandomized ``ci`` profile.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cnngrade.properties import (
    PropertyFailed,
    check_avg_pool2d,
    check_conv2d_param_count,
    check_conv2d_unfold,
    check_conv_output_size,
    check_fold,
    check_max_pool2d,
    check_unfold,
)

MUTANTS_DIR = Path(__file__).resolve().parent / "mutants"
CI = "ci"

CHECKS = {
    "max_pool2d": check_max_pool2d,
    "avg_pool2d": check_avg_pool2d,
    "unfold": check_unfold,
    "fold": check_fold,
    "conv2d_unfold": check_conv2d_unfold,
    "conv_output_size": check_conv_output_size,
    "conv2d_param_count": check_conv2d_param_count,
}

#: mutant file -> (function checked, first property to fail, other properties that kill it alone)
MUTANTS = {
    "max_off_by_one_window": ("max_pool2d", "matches_torch", ()),
    "max_stride_ignored": ("max_pool2d", "shape", ("matches_torch",)),
    "max_padding_ignored": ("max_pool2d", "shape", ()),
    "avg_padding_twice": ("avg_pool2d", "shape", ("matches_torch",)),
    "avg_unpadded_count": ("avg_pool2d", "matches_torch", ()),
    "max_transposed": ("max_pool2d", "shape", ()),
    "max_wrong_channel": ("max_pool2d", "matches_torch", ("window_membership",)),
    "avg_ceil_output": ("avg_pool2d", "shape", ()),
    "max_pad_zero": ("max_pool2d", "matches_torch", ("window_membership", "add_constant")),
    "max_mutates_input": ("max_pool2d", "no_mutation", ()),
    "max_wrong_gradient": ("max_pool2d", "gradient", ()),
    "avg_floor_division": ("avg_pool2d", "matches_torch", ("linearity",)),
    "unfold_wrong_order": ("unfold", "matches_torch", ("roundtrip",)),
    "unfold_transposed_patches": ("unfold", "matches_torch", ("roundtrip",)),
    "unfold_padding_ignored": ("unfold", "shape", ()),
    "fold_no_sum": ("fold", "matches_torch", ("roundtrip",)),
    "conv_ignores_bias": ("conv2d_unfold", "matches_torch", ("bias",)),
    "conv_output_size_ceil": ("conv_output_size", "formula", ()),
    "conv2d_param_count_no_bias": ("conv2d_param_count", "matches_torch", ()),
}

#: properties whose failure shows tensors (the arithmetic checks show their arguments instead)
TENSOR_CHECKS = {"max_pool2d", "avg_pool2d", "unfold", "fold", "conv2d_unfold"}


def mutant(name: str):
    function = MUTANTS[name][0]
    spec = importlib.util.spec_from_file_location(f"cnngrade_tests_mutant_{name}", MUTANTS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function)


def test_every_mutant_file_is_tested_and_there_are_at_least_twelve():
    files = {p.stem for p in MUTANTS_DIR.glob("*.py")}
    assert files == set(MUTANTS)
    assert len(files) >= 12


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_killed_by_the_expected_property(name):
    function, first, _ = MUTANTS[name]
    with pytest.raises(PropertyFailed) as failed:
        CHECKS[function](mutant(name), profile=CI)
    error = failed.value
    message = str(error)
    assert error.property == first
    assert message.endswith(f"(property: {first})")
    assert message.startswith(function)
    assert isinstance(error, AssertionError)
    assert error.counterexample
    if function in TENSOR_CHECKS:
        assert "Smallest failing input: " in message
        assert "tensor([" in message


@pytest.mark.parametrize(
    ("name", "prop"), [(name, prop) for name, (_, _, more) in sorted(MUTANTS.items()) for prop in more]
)
def test_mutant_is_also_killed_by(name, prop):
    function = MUTANTS[name][0]
    with pytest.raises(PropertyFailed) as failed:
        CHECKS[function](mutant(name), only=prop, profile=CI)
    assert failed.value.property == prop
    assert str(failed.value).endswith(f"(property: {prop})")


def test_mutant_mutating_its_input_does_not_corrupt_the_other_properties():
    # the implementation gets copies, so only no_mutation sees the in-place change
    checked = check_max_pool2d(mutant("max_mutates_input"), skip=("no_mutation", "gradient"), profile=CI)
    assert "matches_torch" in checked
