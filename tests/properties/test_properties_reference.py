"""The property suites pass on the lab's reference code (as the lab declares it), on
torch.nn.functional itself (with the default declaration, and with all it supports) and on torch's
layers (module instances and classes), under the derandomized ``ci`` profile.

The reference checks use the pytest-friendly form (one test per property, through
``property_names``); the others run whole checks.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch.nn as nn
import torch.nn.functional as F

from cnngrade.grader.checks import LAB_SUPPORTS
from cnngrade.properties import (
    Supports,
    check_avg_pool2d,
    check_conv2d,
    check_conv2d_param_count,
    check_conv2d_unfold,
    check_conv_output_size,
    check_fold,
    check_linear_param_count,
    check_max_pool2d,
    check_unfold,
    property_names,
)

ROOT = Path(__file__).resolve().parents[2]
CI = "ci"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


POOLING = load(ROOT / "reference" / "pooling.py", "cnngrade_tests_reference_pooling")
CONV_MATH = load(ROOT / "reference" / "conv_math.py", "cnngrade_tests_reference_conv_math")

REFERENCE = [
    (check_max_pool2d, POOLING.max_pool2d),
    (check_avg_pool2d, POOLING.avg_pool2d),
    (check_unfold, CONV_MATH.unfold),
    (check_fold, CONV_MATH.fold),
    (check_conv2d_unfold, CONV_MATH.conv2d_unfold),
    (check_conv_output_size, CONV_MATH.conv_output_size),
    (check_conv2d_param_count, CONV_MATH.conv2d_param_count),
    (check_linear_param_count, CONV_MATH.linear_param_count),
]


@pytest.mark.parametrize(
    ("check", "fn", "prop"),
    [
        pytest.param(check, fn, prop, id=f"{fn.__name__}-{prop}")
        for check, fn in REFERENCE
        for prop in property_names(check, LAB_SUPPORTS)
    ],
)
def test_reference_has_property(check, fn, prop):
    assert check(fn, supports=LAB_SUPPORTS, only=prop, profile=CI) == (prop,)


FUNCTIONAL = [
    (check_max_pool2d, F.max_pool2d),
    (check_avg_pool2d, F.avg_pool2d),
    (check_unfold, F.unfold),
    (check_fold, F.fold),
    (check_conv2d, F.conv2d),
]


@pytest.mark.parametrize(("check", "fn"), FUNCTIONAL, ids=["max_pool2d", "avg_pool2d", "unfold", "fold", "conv2d"])
def test_torch_functional_passes_its_suite_with_the_defaults(check, fn):
    assert check(fn, profile=CI, max_examples=15) == property_names(check)


@pytest.mark.parametrize(("check", "fn"), FUNCTIONAL, ids=["max_pool2d", "avg_pool2d", "unfold", "fold", "conv2d"])
def test_torch_functional_passes_everything_it_supports(check, fn):
    checked = check(fn, supports=Supports.torch(), profile=CI)
    assert checked == property_names(check, Supports.torch())


@pytest.mark.parametrize(
    ("check", "layer", "left_out"),
    [
        (
            check_max_pool2d,
            nn.MaxPool2d(3, 2, padding=1, dilation=2, ceil_mode=True),
            {"max_ge_avg", "errors", "return_indices"},
        ),
        (check_avg_pool2d, nn.AvgPool2d(3, 1, padding=1, count_include_pad=False), {"max_ge_avg", "errors"}),
        (check_unfold, nn.Unfold(2, padding=1, stride=2), {"errors"}),
        (check_fold, nn.Fold((4, 5), 2, padding=1), {"errors"}),
        (check_conv2d, nn.Conv2d(2, 4, 3, padding=1, groups=2), {"errors"}),
        (check_conv2d, nn.Conv2d(1, 2, (2, 3), stride=2, bias=False), {"bias", "errors"}),
    ],
    ids=["MaxPool2d", "AvgPool2d", "Unfold", "Fold", "Conv2d-groups", "Conv2d-no-bias"],
)
def test_layer_instances_are_checked_with_their_own_arguments(check, layer, left_out):
    checked = check(layer, supports=Supports.torch(), profile=CI, max_examples=10)
    assert set(checked) == set(property_names(check, Supports.torch())) - left_out


@pytest.mark.parametrize(
    ("check", "cls"),
    [
        (check_max_pool2d, nn.MaxPool2d),
        (check_avg_pool2d, nn.AvgPool2d),
        (check_unfold, nn.Unfold),
        (check_fold, nn.Fold),
        (check_conv2d, nn.Conv2d),
    ],
    ids=["MaxPool2d", "AvgPool2d", "Unfold", "Fold", "Conv2d"],
)
def test_layer_classes_are_built_per_example(check, cls):
    checked = check(cls, supports=Supports.torch(), profile=CI, max_examples=10)
    assert checked == property_names(check, Supports.torch())


@pytest.mark.parametrize(("check", "fn"), REFERENCE[:5], ids=lambda v: getattr(v, "__name__", ""))
def test_reference_also_handles_empty_batches_odd_layouts_and_special_values(check, fn):
    axes = {"empty_batch", "non_contiguous", "channels_last"} | (
        {"nan_inf"} if "pool" in fn.__name__ else set()
    )
    check(fn, supports=axes, profile=CI, max_examples=15)
