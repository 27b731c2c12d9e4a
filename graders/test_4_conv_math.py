"""Convolution arithmetic and convolution by unfold / fold, against torch's own.

As for pooling, the ``gradient`` and ``no_mutation`` properties are not graded through the handle, and the
functions are checked as the lab declares them (``LAB_SUPPORTS``).
"Written from scratch" forbids the operators ``[from_scratch.conv_math]`` of lab.toml lists, in the
operator trace of a call that the grader checks by running it (against torch on shuffled values).
A lab whose ``[parts]`` lists none of these functions skips these checks.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnngrade.grader.checks import LAB_SUPPORTS, FromScratch, expect_from_scratch
from cnngrade.properties import (
    check_conv2d_param_count,
    check_conv2d_unfold,
    check_conv_output_size,
    check_fold,
    check_linear_param_count,
    check_unfold,
    property_names,
)

#: the library's properties the lab does not grade: those above, and the one it added after the lab's points were
#: set (the lab's dtype is checked inside each value property: LAB_SUPPORTS)
NOT_GRADED = ("gradient", "no_mutation", "precision")
CHECKS = {
    "conv_output_size": check_conv_output_size,
    "conv2d_param_count": check_conv2d_param_count,
    "linear_param_count": check_linear_param_count,
    "unfold": check_unfold,
    "fold": check_fold,
    "conv2d_unfold": check_conv2d_unfold,
}
#: torch's own functions, with the lab functions' signatures
TORCH = {
    "unfold": lambda x, kernel_size, stride=1, padding=0: F.unfold(x, kernel_size, padding=padding, stride=stride),
    "fold": lambda patches, output_size, kernel_size, stride=1, padding=0: F.fold(
        patches, output_size, kernel_size, padding=padding, stride=stride),
    "conv2d_unfold": F.conv2d,
}
CASES = [(name, prop) for name, check in CHECKS.items() for prop in property_names(check, LAB_SUPPORTS)
         if prop not in NOT_GRADED]
#: the functions a student's function may call: where one of them fails its own check first (they run in
#: CHECKS's order), the failure says to fix it first (an off-by-one conv_output_size fails unfold too)
USES = {"unfold": ("conv_output_size",), "fold": ("conv_output_size", "unfold"),
        "conv2d_unfold": ("conv_output_size", "unfold")}


@pytest.mark.points(1)
@pytest.mark.parametrize(("function", "prop"), [
    pytest.param(f, p, id=f"{f}-{p}", marks=(pytest.mark.lab_function(f), pytest.mark.needs(f),
                                             pytest.mark.uses(*USES.get(f, ()))))
    for f, p in CASES])
def test_conv_math(property_check, function, prop):
    """conv_math property"""
    property_check(CHECKS[function], function, prop)


@pytest.mark.points(3)
@pytest.mark.lab_function("unfold", "fold", "conv2d_unfold")
@pytest.mark.needs("unfold", "fold", "conv2d_unfold")
@pytest.mark.uses("conv_output_size")
def test_unfold_fold_conv_from_scratch(submission, lab):
    """unfold, fold and conv2d_unfold are written from scratch (no F.unfold, F.fold or F.conv2d)"""
    generator = torch.Generator().manual_seed(0)
    x, weight, bias = (torch.randn(*shape, generator=generator) for shape in ((1, 2, 4, 4), (3, 2, 2, 2), (3,)))
    calls = {
        "unfold": [(x, 2), (x, 3, 2, 1)],
        "fold": [(torch.randn(1, 8, 9, generator=generator), (4, 4), 2),
                 (torch.randn(1, 18, 4, generator=generator), (4, 4), 3, 2, 1)],
        "conv2d_unfold": [(x, weight), (x, weight, bias, 2, 1)],
    }
    expect_from_scratch(submission, calls, FromScratch.from_lab(lab, "conv_math"), TORCH)
