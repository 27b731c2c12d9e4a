"""The public API of cnngrade.properties: messages, shrinking, selection, supports, profiles."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import settings

from cnngrade.properties import (
    PropertyFailed,
    Supports,
    UsageError,
    check_avg_pool2d,
    check_conv2d,
    check_conv_output_size,
    check_linear_param_count,
    check_max_pool2d,
    check_unfold,
    conform,
    profiles,
    property_names,
)
from cnngrade.properties.formatting import format_tensor
from cnngrade.properties.supports import as_supports
from cnngrade.properties.table import OUT_OF_SCOPE, PASS
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
        check_max_pool2d(identity_pool, only="shape", profile=CI)
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
        check_max_pool2d(relu_then_pool, only="matches_torch", profile=CI)
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
                only=("shape", "matches_torch", "errors"),
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
        check_max_pool2d(crashes, only="shape", profile=CI)
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
            lenient, supports=Supports(tuple_args=False, errors="torch"), only="errors", profile=CI
        )
    assert failed.value.property == "errors"


def test_not_implemented_inside_the_declaration_fails_a_blank_template_of_the_grader_is_not_judged():
    def blank(x, kernel_size, stride=None, padding=0):
        raise NotImplementedError

    with pytest.raises(PropertyFailed, match=r"raised NotImplementedError, for a case its declaration covers"):
        check_max_pool2d(blank, only="shape", profile=CI)

    def blank_in_sandbox(x, kernel_size, stride=None, padding=0):
        raise NotImplementedYet("max_pool2d is not implemented yet")

    with pytest.raises(NotImplementedYet):
        check_avg_pool2d(blank_in_sandbox, profile=CI)


def test_a_check_runs_every_property_and_raises_the_table_of_its_failures():
    with pytest.raises(PropertyFailed) as failed:
        check_max_pool2d(identity_pool, only=("shape", "matches_torch", "no_mutation", "dtype"), profile=CI)
    error = failed.value
    assert error.property == "shape" and [f.property for f in error.failures] == ["shape", "matches_torch"]
    message = str(error)
    assert "\n  dtype           pass\n" in message
    assert message.startswith("identity_pool as max_pool2d, Supports()\n  shape ")
    assert "FAIL [1]" in message and "\n[1] identity_pool(x, " in message


def test_conform_returns_the_table_with_out_of_scope_rows_and_their_reasons():
    table = conform("max_pool2d", F.max_pool2d, supports=Supports(errors="none"), profile=CI, max_examples=3)
    assert table.passed and table.failures == ()
    assert table.row("errors").status == OUT_OF_SCOPE and table.row("errors").reason == "errors='none' declared"
    assert table.row("return_indices").reason == "not declared (return_indices)"
    assert table.held == tuple(r.property for r in table.rows if r.status == PASS)
    assert str(table).splitlines()[-1] == table.summary() == "all 12 properties in scope hold, 3 out of scope."


def test_non_differentiable_implementations_have_the_gradient_out_of_scope():
    def no_grad_pool(x, kernel_size, stride=None, padding=0):
        with torch.no_grad():
            return F.max_pool2d(x, kernel_size, stride, padding)

    assert check_max_pool2d(no_grad_pool, only="gradient", profile=CI) == ()
    row = conform("max_pool2d", no_grad_pool, only="gradient", profile=CI).row("gradient")
    assert row.status == OUT_OF_SCOPE and "no backward is declared" in row.reason


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
    assert default[-5:] == ("precision", "gradient", "gradient_ties", "dtype", "errors")
    assert "return_indices" not in default and "special_values" not in default
    assert {"return_indices", "special_values"} <= set(property_names(check_max_pool2d, "all"))
    assert property_names(check_conv_output_size) == ("formula",)
    # a layer with padding: no max_ge_avg; its arguments are fixed: no errors
    assert property_names(check_avg_pool2d, fn=torch.nn.AvgPool2d(3, padding=1)) == (
        "shape",
        "matches_torch",
        "no_mutation",
        "linearity",
        "precision",
        "gradient",
        "dtype",
    )
    # declaring less: no errors without illegal arguments to pass, no dtype row, no float64
    narrow = Supports(padding=False, stride="kernel", output_dtype="any", dtypes=("float32",))
    assert not {"errors", "dtype", "precision"} & set(property_names(check_max_pool2d, narrow))


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
    # the short forms of the keywords: a layout string, a names dict, dtype names
    declared = Supports(layouts="NHWC, HWC", names={"kernel_size": "size"}, dtypes="float64")
    assert declared.layouts == ("NHWC", "HWC") and declared.name_of("kernel_size") == "size"
    assert declared.dtypes == (torch.float64,) and declared.channels_at_end and declared.batched and declared.unbatched
    assert declared.declared() == (
        "Supports(layouts=('NHWC', 'HWC'), names={'kernel_size': 'size'}, dtypes=(float64))"
    )


@pytest.mark.parametrize(
    ("declaration", "words"),
    [
        ({"layouts": "NCHW,NHWC"}, "channels first and channels last cannot be told apart"),
        ({"layouts": "NCWH"}, "expected some of NCHW, CHW, HW, NHWC, HWC"),
        ({"stride": "2"}, "Supports(stride='2'): expected one of any, 1, kernel"),
        ({"dtypes": "float8"}, "'float8' is not one of"),
        ({"errors": "some"}, "expected one of any, torch, none"),
    ],
)
def test_a_declaration_that_means_nothing_is_a_usage_error(declaration, words):
    with pytest.raises(UsageError) as refused:
        Supports(**declaration)
    assert words in str(refused.value)


def test_what_cannot_be_called_as_declared_is_a_usage_error_saying_what_to_pass():
    class Layer:
        def __init__(self, kernel_size):
            self.kernel_size = kernel_size

        def forward(self, x):
            return F.max_pool2d(x, self.kernel_size)

    with pytest.raises(UsageError, match="is a class with a forward method: declare calling='layer'"):
        check_max_pool2d(Layer)
    with pytest.raises(UsageError, match="an object with a forward method, not a function or an nn.Module: pass "
                                         "its class with calling='layer'"):
        check_max_pool2d(Layer(2))
    with pytest.raises(UsageError, match="calling='cs231n' pooling passes pool_param"):
        check_max_pool2d(F.max_pool2d, supports=Supports(calling="cs231n"))
    with pytest.raises(UsageError, match="numpy arrays cannot go through an nn.Module"):
        check_max_pool2d(torch.nn.MaxPool2d, supports=Supports(array="numpy"))
    with pytest.raises(UsageError, match="unfold is checked on channels-first inputs only"):
        check_unfold(F.unfold, supports=Supports(layouts="NHWC"))
    with pytest.raises(UsageError, match="backward= goes with a function"):
        check_max_pool2d(torch.nn.MaxPool2d, backward=lambda dout, x: dout)
    assert check_max_pool2d(Layer, supports=Supports(calling="layer", tuple_args=False, padding=False,
                                                     stride="kernel"), profile=CI, max_examples=3)


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
    monkeypatch.setattr(profiles, "_loaded", None)
    assert profiles.profile_name() == "dev"
    monkeypatch.setenv("CI", "true")
    assert profiles.profile_name() == "ci"
    monkeypatch.setenv(profiles.PROFILE_ENV, "dev")
    assert profiles.profile_name() == "dev"
    assert profiles.profile_name("ci") == "ci"


def test_the_environment_picks_the_profile_without_load_profile(monkeypatch):
    monkeypatch.setattr(profiles, "_loaded", None)
    monkeypatch.delenv(profiles.MAX_EXAMPLES_ENV, raising=False)
    monkeypatch.setenv(profiles.PROFILE_ENV, "dev")
    assert profiles.active_settings().max_examples == profiles.DEV_MAX_EXAMPLES
    monkeypatch.setenv(profiles.PROFILE_ENV, "ci")
    assert profiles.active_settings().max_examples == profiles.CI_MAX_EXAMPLES
    assert profiles.active_settings("dev").max_examples == profiles.DEV_MAX_EXAMPLES
    monkeypatch.setenv(profiles.PROFILE_ENV, "fast")
    with pytest.raises(UsageError, match="no Hypothesis profile 'fast'"):
        profiles.active_settings()


def test_a_check_writes_nothing_into_the_working_folder_and_dev_keeps_its_examples_in_the_cache(
    tmp_path, monkeypatch
):
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(profiles, "_loaded", None)
    monkeypatch.setenv(profiles.PROFILE_ENV, "dev")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    profiles.register_profiles()  # the dev profile's database, in this cache

    def failing(size, kernel_size, stride=1, padding=0, dilation=1):
        return 0

    try:
        with pytest.raises(PropertyFailed):
            check_conv_output_size(failing, max_examples=3)
    finally:
        monkeypatch.undo()
        profiles.register_profiles()
    assert list(work.iterdir()) == []
    assert any((cache / "cnngrade" / "hypothesis" / "examples").iterdir())
    assert settings.get_profile("ci").database is None


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
