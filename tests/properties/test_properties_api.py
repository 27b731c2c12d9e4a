"""The public API of cnngrade.properties: messages, shrinking, selection, supports, profiles."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import settings

from cnngrade.properties import (
    PropertyFailed,
    Supports,
    check_avg_pool2d,
    check_conv2d,
    check_conv_output_size,
    check_linear_param_count,
    check_max_pool2d,
    check_unfold,
    profiles,
    property_names,
)
from cnngrade.properties.formatting import format_tensor
from cnngrade.properties.supports import as_supports
from cnngrade.submission.errors import NotImplementedYet

CI = "ci"


def identity_pool(x, kernel_size, stride=None, padding=0):
    return x


def relu_then_pool(x, kernel_size, stride=None, padding=0):
    """Wrong on negative inputs only."""
    return F.max_pool2d(x.clamp(min=0), kernel_size, stride, padding)


# ----------------------------------------------------------------------------------------------
# Messages and counterexamples


def test_shape_failure_reads_as_one_sentence_with_the_formula_and_smallest_input():
    with pytest.raises(PropertyFailed) as failed:
        check_max_pool2d(identity_pool, profile=CI)
    error = failed.value
    message = str(error)
    assert error.property == "shape"
    assert message.startswith("identity_pool(x, kernel_size=")
    assert "output shape should be" in message
    assert "(H_out = floor((H + 2p - k)/s) + 1)" in message
    assert "Smallest failing input: x = tensor([[[[" in message
    assert message.endswith("(property: shape)")
    assert error.seen == tuple(error.counterexample["x"].shape)
    assert error.expected != error.seen


def test_counterexample_is_shrunk_to_the_smallest_input():
    with pytest.raises(PropertyFailed) as failed:
        check_max_pool2d(relu_then_pool, supports=Supports(hw_input=False), profile=CI)
    error = failed.value
    x = error.counterexample["x"]
    assert error.property == "matches_torch"
    assert x.shape == (1, 1, 1, 1)
    assert x.item() == -0.25
    assert error.counterexample["kernel_size"] == 1
    assert "Smallest failing input: x = tensor([[[[-0.25]]]])" in str(error)


def test_failures_are_deterministic_under_ci():
    messages = []
    for _ in range(2):
        with pytest.raises(PropertyFailed) as failed:
            check_avg_pool2d(
                lambda x, kernel_size, stride=None, padding=0: F.avg_pool2d(x, kernel_size, stride, 0),
                profile=CI,
            )
        messages.append(str(failed.value))
    assert messages[0] == messages[1]


def test_exceptions_of_the_implementation_become_failures_with_the_input():
    def crashes(x, kernel_size, stride=None, padding=0):
        raise IndexError("index 3 is out of bounds")

    with pytest.raises(
        PropertyFailed, match=r"raised IndexError: index 3 is out of bounds\. Smallest failing"
    ) as failed:
        check_max_pool2d(crashes, profile=CI)
    assert isinstance(failed.value.__cause__, IndexError)


def test_wrong_return_type_is_named():
    with pytest.raises(PropertyFailed, match="should return a tensor but returned a list of 1 values"):
        check_max_pool2d(
            lambda x, kernel_size, stride=None, padding=0: [F.max_pool2d(x, kernel_size)], profile=CI
        )


def test_missing_error_is_reported_by_the_errors_property():
    def lenient(x, kernel_size, stride=None, padding=0):
        """Clamps illegal arguments instead of refusing them."""
        return F.max_pool2d(x, kernel_size, stride or kernel_size, min(padding, kernel_size // 2))

    with pytest.raises(PropertyFailed, match=r"it should raise an error \(torch refuses") as failed:
        check_max_pool2d(
            lenient, supports=Supports(tuple_args=False, hw_input=False), only="errors", profile=CI
        )
    assert failed.value.property == "errors"


def test_blank_templates_are_not_property_failures():
    def blank(x, kernel_size, stride=None, padding=0):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check_max_pool2d(blank, profile=CI)

    def blank_in_sandbox(x, kernel_size, stride=None, padding=0):
        raise NotImplementedYet("max_pool2d is not implemented yet")

    with pytest.raises(NotImplementedYet):
        check_avg_pool2d(blank_in_sandbox, profile=CI)


def test_non_differentiable_implementations_skip_the_gradient_property():
    def no_grad_pool(x, kernel_size, stride=None, padding=0):
        with torch.no_grad():
            return F.max_pool2d(x, kernel_size, stride, padding)

    assert check_max_pool2d(no_grad_pool, supports=Supports(hw_input=False), only="gradient", profile=CI) == (
        "gradient",
    )


def test_arithmetic_messages():
    with pytest.raises(PropertyFailed, match=r"should be the int \d+ .* \(use // for the floor division\)"):
        check_conv_output_size(
            lambda size, kernel_size, stride=1, padding=0, dilation=1: (
                (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1
            ),
            supports=Supports(tuple_args=False),
            profile=CI,
        )

    def linear_param_count(in_features, out_features, bias=True):
        return in_features * out_features

    with pytest.raises(
        PropertyFailed,
        match=r"linear_param_count\(1, 1\): should be 2, the number of parameters of "
        r"torch.nn.Linear\(1, 1\)",
    ):
        check_linear_param_count(linear_param_count, profile=CI)


def test_format_tensor_is_one_line_in_torch_notation():
    assert format_tensor(torch.tensor([[1.0, -0.25], [float("nan"), float("-inf")]])) == (
        "tensor([[1., -0.25], [nan, -inf]])"
    )
    assert (
        format_tensor(torch.zeros(0, 2, dtype=torch.float64))
        == "tensor([], size=(0, 2), dtype=torch.float64)"
    )
    assert format_tensor(torch.tensor([0.1])) == "tensor([0.1])"


# ----------------------------------------------------------------------------------------------
# Selection and supports


def test_property_names_follow_the_supports_declaration():
    default = property_names(check_max_pool2d)
    assert default[:3] == ("shape", "matches_torch", "no_mutation")
    assert "return_indices" not in default and "special_values" not in default
    assert {"return_indices", "special_values"} <= set(property_names(check_max_pool2d, "all"))
    assert property_names(check_conv_output_size) == ("formula",)
    # a layer with padding: no max_ge_avg; its arguments are fixed: no errors
    assert property_names(check_avg_pool2d, fn=torch.nn.AvgPool2d(3, padding=1)) == (
        "shape",
        "matches_torch",
        "no_mutation",
        "linearity",
        "gradient",
    )


def test_only_and_skip_select_properties():
    assert check_unfold(F.unfold, only=["shape", "roundtrip"], supports="torch", profile=CI) == (
        "shape",
        "roundtrip",
    )
    checked = check_unfold(F.unfold, skip="gradient", supports="torch", profile=CI, max_examples=5)
    assert "gradient" not in checked and "shape" in checked


def test_unknown_or_inapplicable_properties_are_refused():
    with pytest.raises(ValueError, match="has no property 'shapes'"):
        check_max_pool2d(F.max_pool2d, only="shapes")
    with pytest.raises(ValueError, match="does not apply"):
        check_max_pool2d(F.max_pool2d, only="return_indices")  # not declared in supports


def test_supports_declarations():
    assert as_supports(None) == Supports()
    assert as_supports({"dilation", "ceil_mode"}) == Supports(dilation=True, ceil_mode=True)
    assert as_supports("groups") == Supports(groups=True)
    assert as_supports("all").nan_inf and as_supports("all").hw_input
    assert not as_supports("torch").hw_input and as_supports("torch").return_indices
    with pytest.raises(ValueError, match="unknown supports axis"):
        as_supports({"dilations"})


def test_modules_without_arguments_to_read_are_refused():
    class Opaque(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="no kernel_size attribute"):
        check_max_pool2d(Opaque())


def test_extended_axes_reach_the_implementation():
    seen = set()

    def spy(x, weight, bias=None, **kwargs):
        seen.update(k for k, v in kwargs.items() if v not in (1, 0, (1, 1), (0, 0)))
        if not x.is_contiguous():
            seen.add("non_contiguous")
        return F.conv2d(x, weight, bias, **kwargs)

    check_conv2d(
        spy,
        supports={"groups", "dilation", "same_padding", "non_contiguous"},
        only="matches_torch",
        profile=CI,
    )
    assert {"groups", "dilation", "padding", "non_contiguous"} <= seen


# ----------------------------------------------------------------------------------------------
# Profiles


def test_ci_profile_is_derandomized_without_database_or_deadline():
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None and not ci.print_blob
    assert ci.max_examples == profiles.CI_MAX_EXAMPLES
    dev = settings.get_profile("dev")
    assert not dev.derandomize and dev.deadline is None


def test_profile_selection(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert profiles.profile_name() == "dev"
    monkeypatch.setenv("CI", "true")
    assert profiles.profile_name() == "ci"
    monkeypatch.setenv(profiles.PROFILE_ENV, "dev")
    assert profiles.profile_name() == "dev"
    assert profiles.profile_name("ci") == "ci"


def test_example_count_is_overridable(monkeypatch):
    calls = []

    def counting(size, kernel_size, stride=1, padding=0, dilation=1):
        calls.append(size)
        return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1

    monkeypatch.setenv(profiles.MAX_EXAMPLES_ENV, "7")
    check_conv_output_size(counting, supports=Supports(tuple_args=False), profile=CI)
    assert len(calls) == 7
    calls.clear()
    check_conv_output_size(counting, supports=Supports(tuple_args=False), profile=CI, max_examples=3)
    assert len(calls) == 3
    monkeypatch.setenv(profiles.MAX_EXAMPLES_ENV, "zero")
    with pytest.raises(ValueError, match="CNNGRADE_MAX_EXAMPLES"):
        check_conv_output_size(counting, profile=CI)


def test_checks_leave_torch_threads_as_they_were():
    before = torch.get_num_threads()
    check_linear_param_count(lambda i, o, bias=True: i * o + (o if bias else 0), profile=CI, max_examples=3)
    assert torch.get_num_threads() == before
