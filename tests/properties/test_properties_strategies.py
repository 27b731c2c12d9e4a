"""The strategies draw only legal cases, and the conv arithmetic they rely on agrees with torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnngrade.properties import Supports
from cnngrade.properties.strategies import (
    bytes_to_values,
    conv_cases,
    conv_error_cases,
    fold_cases,
    fold_error_cases,
    pool_cases,
    pool_error_cases,
    unfold_cases,
    unfold_error_cases,
)

CI = settings(settings.get_profile("ci"), max_examples=40)
TORCH = Supports.torch()


def torch_pool(kind, x, kwargs):
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    return fn(x, **kwargs)


@CI
@given(
    st.sampled_from(["max", "avg"]).flatmap(lambda kind: st.tuples(st.just(kind), pool_cases(kind, TORCH)))
)
def test_pool_cases_are_legal_and_their_shape_is_torchs(kind_case):
    kind, case = kind_case
    out = torch_pool(kind, case.x, case.kwargs)
    assert tuple(out.shape) == case.output_shape()
    assert all(s >= 1 for s in case.output_shape()[-2:])
    params = case.params
    assert all(params.padding[i] <= params.kernel[i] // 2 for i in range(2))
    # no window lies entirely in the padding
    assert all(params.windows_touch_input(i, case.x.shape[-2 + i]) for i in range(2))


@CI
@given(pool_cases("max", Supports()))
def test_lab_default_cases(case):
    assert case.x.dim() in (2, 3, 4)
    assert set(case.kwargs) <= {"kernel_size", "stride", "padding"}
    assert case.x.dtype in (torch.float32, torch.float64)
    assert torch.isfinite(case.x).all()
    assert case.layout == "contiguous"


@CI
@given(st.one_of(pool_error_cases("max", TORCH), pool_error_cases("avg", TORCH)))
def test_pool_error_cases_are_refused_by_torch(case):
    with pytest.raises(RuntimeError):
        F.max_pool2d(case.x, **case.kwargs)
    with pytest.raises(RuntimeError):
        F.avg_pool2d(case.x, **case.kwargs)


@CI
@given(unfold_cases(TORCH))
def test_unfold_cases_are_legal(case):
    assert F.unfold(case.x, **case.kwargs).shape[-1] >= 1


@CI
@given(fold_cases(TORCH))
def test_fold_cases_are_legal_and_match_their_image(case):
    out = F.fold(case.patches, **case.kwargs)
    assert out.shape == case.image.shape


@CI
@given(conv_cases(TORCH))
def test_conv_cases_are_legal(case):
    out = F.conv2d(case.x, case.weight, case.bias, **case.kwargs)
    assert out.numel() >= 0 and out.shape[-3] == case.weight.shape[0]


@CI
@given(
    st.one_of(
        unfold_error_cases(TORCH).map(lambda c: lambda: F.unfold(c.x, **c.kwargs)),
        fold_error_cases(TORCH).map(lambda c: lambda: F.fold(c.patches, **c.kwargs)),
        conv_error_cases(TORCH).map(lambda c: lambda: F.conv2d(c.x, c.weight, c.bias, **c.kwargs)),
    )
)
def test_conv_error_cases_are_refused_by_torch(call):
    with pytest.raises(RuntimeError):
        call()


@CI
@given(st.binary(min_size=1, max_size=64))
def test_byte_values_are_exact_quarters_and_unique_values_distinct(data):
    values = bytes_to_values(data)
    assert np.all(values * 4 == np.round(values * 4)) and np.all(np.abs(values) <= 32)
    assert np.array_equal(values.astype(np.float32).astype(np.float64), values)
    unique = bytes_to_values(data, unique=True)
    assert len(set(unique.tolist())) == len(data)
    assert bytes_to_values(bytes(len(data))).tolist() == [0.0] * len(data)
    fine = bytes_to_values(data, fine=True)
    assert np.all(np.abs(fine - values) > 0) and np.all(np.abs(fine - values) < 1e-8)
    assert set(bytes_to_values(data, tied=True).tolist()) <= {-1.0, 0.0, 1.0}


#: a declaration of less than the default: single images, ints, square kernels, no padding, windows side by side
NARROW = Supports(layouts="CHW", tuple_args=False, square_kernels=True, padding=False, stride="kernel",
                  torch_defaults=False)


@CI
@given(pool_cases("max", NARROW))
def test_pool_cases_stay_inside_a_narrow_declaration(case):
    assert case.x.dim() == 3 and list(case.kwargs) == ["kernel_size"] and isinstance(case.kwargs["kernel_size"], int)
    assert F.max_pool2d(case.x, **case.kwargs).shape == case.output_shape()


@CI
@given(conv_cases(Supports(tuple_args=False, padding=False, stride="1", layouts="NCHW")))
def test_conv_kernels_need_not_be_square_where_the_arguments_are_ints(case):
    assert case.x.dim() == 4 and case.kwargs == {}


def test_conv_kernels_with_int_arguments_are_drawn_rectangular_too():
    shapes = set()

    @CI
    @given(conv_cases(Supports(tuple_args=False)))
    def collect(case):
        shapes.add(tuple(case.weight.shape[-2:]))

    collect()
    assert any(kh != kw for kh, kw in shapes)


@CI
@given(pool_error_cases("max", Supports(padding=False)))
def test_pool_error_cases_without_padding_are_zero_strides(case):
    assert case.error == "stride" and "padding" not in case.kwargs


@CI
@given(conv_error_cases(Supports(stride="1")))
def test_conv_error_cases_with_stride_1_only_are_kernels_too_large(case):
    assert case.error == "kernel" and "stride" not in case.kwargs
