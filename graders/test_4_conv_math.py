"""Convolution arithmetic and convolution by unfold / fold, against torch's own.

As for pooling, the ``gradient`` and ``no_mutation`` properties are not graded through the handle.
"""

from __future__ import annotations

import pytest
import torch

from cnngrade.grader.checks import expect_from_scratch
from cnngrade.properties import (
    check_conv2d_param_count,
    check_conv2d_unfold,
    check_conv_output_size,
    check_fold,
    check_linear_param_count,
    check_unfold,
    property_names,
)

NOT_GRADED = ("gradient", "no_mutation")
CHECKS = {
    "conv_output_size": check_conv_output_size,
    "conv2d_param_count": check_conv2d_param_count,
    "linear_param_count": check_linear_param_count,
    "unfold": check_unfold,
    "fold": check_fold,
    "conv2d_unfold": check_conv2d_unfold,
}
CASES = [(name, prop) for name, check in CHECKS.items() for prop in property_names(check) if prop not in NOT_GRADED]


@pytest.mark.points(1)
@pytest.mark.parametrize(("function", "prop"), CASES, ids=[f"{f}-{p}" for f, p in CASES])
def test_conv_math(property_check, function, prop):
    """conv_math property"""
    property_check(CHECKS[function], function, prop)


@pytest.mark.points(3)
def test_unfold_fold_conv_from_scratch(submission):
    """unfold, fold and conv2d_unfold are written from scratch (no F.unfold, F.fold or F.conv2d)"""
    x = torch.arange(32.0).reshape(1, 2, 4, 4)
    patches = torch.arange(2 * 4 * 9.0).reshape(1, 8, 9)
    weight = torch.ones(3, 2, 2, 2)
    calls = [("unfold", (x, 2)), ("fold", (patches, (4, 4), 2)), ("conv2d_unfold", (x, weight))]
    for name, args in calls:
        expect_from_scratch(submission, name, args, ("im2col", "col2im", "convolution", "conv2d"),
                            "index the input's patches yourself, then one matrix product")
