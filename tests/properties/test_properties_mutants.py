"""The property suites kill mutants of the reference pooling, unfold / fold and conv-math code.

Each mutant is one reference function with one bug, made from the reference's source by replacing
snippets of that function (:func:`tests.mutation.mutate`: each snippet must occur exactly once, so a
change to the reference cannot silently turn a mutant back into the reference). In the table of a
run of the properties up to the first the bug breaks (the checks run their properties in a fixed
order) and the further ones listed, the first failing row must be that property, and each further
property must fail too; the ``check_*`` raises :class:`PropertyFailed` naming the first. Everything
runs under the derandomized ``ci`` profile, as the lab declares its functions (``LAB_SUPPORTS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cnngrade.grader.checks import LAB_SUPPORTS
from cnngrade.properties import (
    PropertyFailed,
    check_avg_pool2d,
    check_conv2d_param_count,
    check_conv2d_unfold,
    check_conv_output_size,
    check_fold,
    check_max_pool2d,
    check_unfold,
    conform,
    property_names,
)
from cnngrade.properties.table import FAIL
from tests.mutation import load_module, mutate
from tests.paths import ROOT

REFERENCE = ROOT / "reference"
CI = "ci"

#: function mutated -> (the reference file defining it, the check it must fail)
FUNCTIONS: dict[str, tuple[str, Callable[..., tuple[str, ...]]]] = {
    "max_pool2d": ("pooling.py", check_max_pool2d),
    "avg_pool2d": ("pooling.py", check_avg_pool2d),
    "unfold": ("conv_math.py", check_unfold),
    "fold": ("conv_math.py", check_fold),
    "conv2d_unfold": ("conv_math.py", check_conv2d_unfold),
    "conv_output_size": ("conv_math.py", check_conv_output_size),
    "conv2d_param_count": ("conv_math.py", check_conv2d_param_count),
}

#: properties whose failure shows tensors (the arithmetic checks show their arguments instead)
TENSOR_CHECKS = {"max_pool2d", "avg_pool2d", "unfold", "fold", "conv2d_unfold"}


@dataclass(frozen=True)
class Mutant:
    """One bug put into one reference function, and the properties expected to kill it."""

    function: str  #: the reference function mutated (a key of FUNCTIONS)
    bug: str  #: what is wrong, in one line
    changes: dict[str, str]  #: old snippet -> new snippet, inside ``function``
    first: str  #: the first property a full check fails
    also: tuple[str, ...] = ()  #: further properties that kill it on their own


#: a backward that spreads each output's gradient evenly over its window (average pooling's)
SPREAD_GRADIENT = """class SpreadGradient(torch.autograd.Function):
        @staticmethod
        def forward(ctx, windows):
            ctx.size = windows.shape[-1]
            return windows.amax(dim=-1)

        @staticmethod
        def backward(ctx, grad):
            return grad.unsqueeze(-1).expand(*grad.shape, ctx.size) / ctx.size

    out = SpreadGradient.apply(windows)"""

MUTANTS = {
    "max_off_by_one_window": Mutant(
        "max_pool2d",
        "windows one row and one column too small (kernel_size - 1), starting at the right places",
        {
            "windows = padded.unfold(1, kh, sh).unfold(2, kw, sw)": (
                "kh, kw = max(kh - 1, 1), max(kw - 1, 1)\n"
                "    windows = padded.unfold(1, kh, sh)[:, :h_out].unfold(2, kw, sw)[:, :, :w_out]"
            ),
        },
        # the windows' elements are still in the true windows: window_membership passes
        first="matches_torch",
    ),
    "max_stride_ignored": Mutant(
        "max_pool2d",
        "stride ignored: the windows always step by kernel_size",
        {'sh, sw = (kh, kw) if stride is None else pair(stride, "stride")': "sh, sw = kh, kw"},
        first="shape",
        also=("matches_torch",),
    ),
    "max_padding_ignored": Mutant(
        "max_pool2d",
        "padding ignored",
        {'ph, pw = pair(padding, "padding")': 'ph, pw = pair(padding, "padding")\n    ph, pw = 0, 0'},
        first="shape",
    ),
    "avg_padding_twice": Mutant(
        "avg_pool2d",
        "padding applied twice (2*padding zeros on each side)",
        {"if x.dim() not in (2, 3, 4):": "ph, pw = 2 * ph, 2 * pw\n    if x.dim() not in (2, 3, 4):"},
        first="shape",
        also=("matches_torch",),
    ),
    "avg_unpadded_count": Mutant(
        "avg_pool2d",
        "divides by the window's input elements, padding not counted (count_include_pad=False; torch counts it)",
        {
            "out = windows.sum(dim=(-2, -1)) / (kh * kw)": (
                "ones = planes.new_zeros(padded.shape)\n"
                "    ones[:, ph:ph + height, pw:pw + width] = 1\n"
                "    counts = ones.unfold(1, kh, sh).unfold(2, kw, sw).sum(dim=(-2, -1))\n"
                "    out = windows.sum(dim=(-2, -1)) / counts"
            ),
        },
        first="matches_torch",
    ),
    "max_transposed": Mutant(
        "max_pool2d",
        "output transposed, (W_out, H_out): wrong on non-square outputs",
        {"return out.reshape(*lead, h_out, w_out)": "return out.reshape(*lead, h_out, w_out).transpose(-1, -2)"},
        first="shape",
    ),
    "max_wrong_channel": Mutant(
        "max_pool2d",
        "every channel pools channel 0",
        {
            "planes = x.reshape(-1, height, width)": (
                "first = x[..., :1, :, :].expand(x.shape) if x.dim() >= 3 else x\n"
                "    planes = first.reshape(-1, height, width)"
            ),
        },
        first="matches_torch",
        also=("window_membership",),
    ),
    "avg_ceil_output": Mutant(
        "avg_pool2d",
        "output size rounded up (ceil instead of floor), the extra windows padded with zeros",
        {
            "h_out = (height + 2 * ph - kh) // sh + 1": "h_out = -(-(height + 2 * ph - kh) // sh) + 1",
            "w_out = (width + 2 * pw - kw) // sw + 1": "w_out = -(-(width + 2 * pw - kw) // sw) + 1",
            "new_zeros((planes.shape[0], height + 2 * ph, width + 2 * pw))": (
                "new_zeros((planes.shape[0], (h_out - 1) * sh + kh, (w_out - 1) * sw + kw))"
            ),
        },
        first="shape",
    ),
    "max_pad_zero": Mutant(
        "max_pool2d",
        "pads with 0 instead of -inf",
        {"), -torch.inf)": "), 0.0)"},
        first="matches_torch",
        also=("window_membership", "add_constant"),
    ),
    "max_pad_large_finite": Mutant(
        "max_pool2d",
        "pads with a large finite number (-1e4) instead of -inf: right for data of ordinary size",
        {"), -torch.inf)": "), -1e4)"},
        first="add_constant",
    ),
    "max_mutates_input": Mutant(
        "max_pool2d",
        "shifts its input in place by its minimum (and the output back): right values, modified input",
        {
            "planes = x.reshape(-1, height, width)": (
                "shift = x.min() if x.numel() else 0.0\n"
                "    x -= shift\n"
                "    planes = x.reshape(-1, height, width)"
            ),
            "return out.reshape(*lead, h_out, w_out)": "return out.reshape(*lead, h_out, w_out) + shift",
        },
        first="no_mutation",
    ),
    "max_wrong_gradient": Mutant(
        "max_pool2d",
        "right values, but each output's gradient goes to every element of its window (the average's gradient)",
        {
            "best = windows.argmax(dim=-1, keepdim=True)\n"
            "    out = windows.gather(-1, best).squeeze(-1)": SPREAD_GRADIENT,
        },
        first="gradient",
    ),
    "avg_floor_division": Mutant(
        "avg_pool2d",
        "divides with // (floor division) instead of /",
        {"windows.sum(dim=(-2, -1)) / (kh * kw)": "windows.sum(dim=(-2, -1)) // (kh * kw)"},
        first="matches_torch",
        also=("linearity",),
    ),
    "unfold_wrong_order": Mutant(
        "unfold",
        "rows ordered kernel position first, channel second: (u*kw + v)*C + c instead of c*kh*kw + u*kw + v",
        {"permute(0, 1, 4, 5, 2, 3)": "permute(0, 4, 5, 1, 2, 3)"},
        first="matches_torch",
        also=("roundtrip",),
    ),
    "unfold_transposed_patches": Mutant(
        "unfold",
        "each patch read transposed (kernel column-major): row c*kh*kw + v*kh + u",
        {"permute(0, 1, 4, 5, 2, 3)": "permute(0, 1, 5, 4, 2, 3)"},
        first="matches_torch",
        also=("roundtrip",),
    ),
    "unfold_padding_ignored": Mutant(
        "unfold",
        "padding ignored",
        {
            "pair(kernel_size), pair(stride), pair(padding)": (
                "pair(kernel_size), pair(stride), pair(padding)\n    ph, pw = 0, 0"
            ),
        },
        first="shape",
    ),
    "fold_no_sum": Mutant(
        "fold",
        "writes each patch over the canvas instead of adding it: overlapping patches are not summed",
        {"canvas.index_add(": "canvas.index_copy("},
        first="matches_torch",
        also=("roundtrip",),
    ),
    "conv_ignores_bias": Mutant(
        "conv2d_unfold",
        "bias ignored",
        {"out = out + bias.reshape(1, out_channels, 1)": "pass"},
        first="matches_torch",
        also=("bias",),
    ),
    "conv_output_size_ceil": Mutant(
        "conv_output_size",
        "rounds up (ceil) instead of down",
        {
            "return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1": (
                "return -(-(size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride) + 1"
            ),
        },
        first="formula",
    ),
    "conv2d_param_count_no_bias": Mutant(
        "conv2d_param_count",
        "biases not counted",
        {
            "return out_channels * in_channels * kh * kw + (out_channels if bias else 0)": (
                "return out_channels * in_channels * kh * kw"
            ),
        },
        first="matches_torch",
    ),
}


def mutant_source(name: str) -> str:
    """The source of the reference file holding the mutant's function, with the mutant's changes."""
    mutant = MUTANTS[name]
    file, _ = FUNCTIONS[mutant.function]
    return mutate((REFERENCE / file).read_text(), mutant.function, mutant.changes)


def mutant(name: str) -> Callable[..., Any]:
    """The mutated function itself, from a fresh module made of :func:`mutant_source`."""
    module = load_module(mutant_source(name), f"cnngrade_tests_mutant_{name}")
    return getattr(module, MUTANTS[name].function)


def test_every_mutant_applies_to_the_reference_and_there_are_at_least_twelve():
    for name in MUTANTS:
        mutant_source(name)  # each snippet occurs exactly once in its function
    assert len(MUTANTS) >= 12


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_killed_by_the_expected_properties(name):
    function, first, also = MUTANTS[name].function, MUTANTS[name].first, MUTANTS[name].also
    check = FUNCTIONS[function][1]
    names = property_names(check, LAB_SUPPORTS)
    selected = (*names[: names.index(first) + 1], *also)
    table = conform(check, mutant(name), supports=LAB_SUPPORTS, only=selected, profile=CI)
    assert [row.property for row in table.rows if row.status == FAIL] == [first, *also], str(table)
    error = table.failures[0]
    message = str(error)
    assert message.endswith(f"(property: {first})")
    assert message.startswith(function)
    assert isinstance(error, AssertionError)
    assert error.counterexample
    if function in TENSOR_CHECKS:
        assert "Smallest failing input: " in message
        assert "tensor([" in message


def test_a_check_raises_the_first_failure_when_it_is_the_only_one():
    with pytest.raises(PropertyFailed) as failed:
        check_max_pool2d(mutant("max_pad_large_finite"), supports=LAB_SUPPORTS, profile=CI)
    assert failed.value.property == "add_constant" and failed.value.failures == (failed.value,)


def test_mutant_mutating_its_input_does_not_corrupt_the_other_properties():
    # the implementation gets copies, so only no_mutation sees the in-place change
    checked = check_max_pool2d(
        mutant("max_mutates_input"), skip=("no_mutation", "gradient", "gradient_ties"), profile=CI
    )
    assert "matches_torch" in checked
