"""The pooling, conv-math and question graders fail submissions with the matching bug."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from cnngrade.grader.checks import FromScratch, exercise_mismatch, forbidden_ops
from cnngrade.grader.questions import describe, revealed, same_answer, show, verdict
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.submission.inprocess import InProcessSubmission
from tests.corpus import REFERENCE
from tests.paths import ROOT

POOLING, CONV_MATH = "lab_pooling", "lab_conv_math"
LAB = LabConfig.load(ROOT / "graders" / "lab.toml")


def pooling_results(result) -> dict[str, str]:
    return {k: v for k, v in result.failed().items() if "pool" in k}


#: pooling on torch's operators, one forbidden family each (tests/corpus.py): what its feedback names
POOLING_CHEATS = {
    "torch_pooling": ("max_pool2d uses torch's own aten.max_pool2d_with_indices (run by F.max_pool2d / nn.MaxPool2d)",
                      "avg_pool2d uses torch's own aten.avg_pool2d (run by F.avg_pool2d / nn.AvgPool2d)"),
    "pool_by_im2col": ("max_pool2d uses torch's own aten.im2col (run by F.unfold / nn.Unfold)",
                       "avg_pool2d uses torch's own aten.im2col (run by F.unfold / nn.Unfold)"),
    "pool_each_window": ("max_pool2d uses torch's own aten.adaptive_max_pool2d (run by F.adaptive_max_pool2d",
                         "avg_pool2d uses torch's own aten.avg_pool2d (run by F.avg_pool2d / nn.AvgPool2d)"),
    "pooling_modules": ("max_pool2d uses torch's own aten.max_pool2d_with_indices (run by F.max_pool2d / nn.MaxPool2d)",
                        "avg_pool2d uses torch's own aten.avg_pool2d (run by F.avg_pool2d / nn.AvgPool2d)"),
}
#: conv math on torch's operators
CONV_MATH_CHEATS = {
    "torch_unfold": ("unfold uses torch's own aten.im2col (run by F.unfold / nn.Unfold)",
                     "conv2d_unfold uses torch's own aten.im2col (run by F.unfold / nn.Unfold)"),
    "torch_fold": ("fold uses torch's own aten.col2im (run by F.fold / nn.Fold). The lab asks you to write it",),
    "torch_conv2d": ("conv2d_unfold uses torch's own aten.convolution (run by F.conv2d / nn.Conv2d). The lab asks "
                     "you to write it",),
}


@pytest.mark.grades(POOLING)
@pytest.mark.parametrize(("name", "words"), POOLING_CHEATS.items(), ids=list(POOLING_CHEATS))
def test_pooling_on_torch_operators_fails_only_from_scratch(corpus, name, words):
    result = corpus.grade(POOLING, name)
    assert set(result.failed()) == {"test_pooling_from_scratch"}
    message = result.failed()["test_pooling_from_scratch"]
    assert all(w in message for w in words), message
    assert message.endswith("The lab asks you to write them from scratch: Tensor.unfold for the windows, then max / "
                            "mean over each window; no torch pooling functions and no F.unfold / nn.Unfold.")
    assert {"test_max_pool2d[matches_torch]", "test_avg_pool2d[matches_torch]", "test_pooling_exercises"} <= \
        result.passed()


@pytest.mark.grades(CONV_MATH)
@pytest.mark.parametrize(("name", "words"), CONV_MATH_CHEATS.items(), ids=list(CONV_MATH_CHEATS))
def test_conv_math_on_torch_operators_fails_only_from_scratch(corpus, name, words):
    result = corpus.grade(CONV_MATH, name)
    assert set(result.failed()) == {"test_unfold_fold_conv_from_scratch"}
    message = result.failed()["test_unfold_fold_conv_from_scratch"]
    assert all(w in message for w in words), message
    assert "from scratch: Tensor.unfold, indexing, reshape, permute, index_add and @ are fine" in message
    assert {"test_conv_math[unfold-matches_torch]", "test_conv_math[fold-matches_torch]",
            "test_conv_math[conv2d_unfold-matches_torch]"} <= result.passed()


@pytest.mark.grades("reference")
def test_pooling_and_conv_math_on_tensor_unfold_are_from_scratch(corpus):
    """Tensor.unfold (aten.unfold, a view) is what the templates allow: the reference uses it."""
    x = torch.arange(32.0).reshape(1, 2, 4, 4)
    handle = InProcessSubmission(REFERENCE)
    for part, function in (("pooling", "max_pool2d"), ("pooling", "avg_pool2d"), ("conv_math", "unfold")):
        ops = {node.op for node in handle.op_graph(function, x, 2).nodes}
        assert "aten.unfold.default" in ops and not forbidden_ops(ops, FromScratch.from_lab(LAB, part).forbidden)
    assert {"test_pooling_from_scratch", "test_unfold_fold_conv_from_scratch"} <= corpus.grade("reference").passed()


@pytest.mark.parametrize(("op", "part", "forbidden"), [
    ("aten.max_pool2d_with_indices.default", "pooling", True), ("aten.avg_pool2d.default", "pooling", True),
    ("aten._adaptive_avg_pool2d.default", "pooling", True), ("aten.adaptive_max_pool2d.default", "pooling", True),
    ("aten.fractional_max_pool2d.default", "pooling", True), ("aten.max_pool1d.default", "pooling", True),
    ("quantized.max_pool2d.default", "pooling", True), ("aten.mkldnn_max_pool2d.default", "pooling", True),
    ("aten.im2col.default", "pooling", True), ("aten::avg_pool2d", "pooling", True),
    ("aten.unfold.default", "pooling", False), ("aten.amax.default", "pooling", False),
    ("aten.max.dim", "pooling", False), ("aten.argmax.default", "pooling", False),
    ("aten.convolution.default", "conv_math", True), ("aten._convolution.default", "conv_math", True),
    ("aten.mkldnn_convolution.default", "conv_math", True), ("aten.conv2d.default", "conv_math", True),
    ("aten._slow_conv2d_forward.default", "conv_math", True), ("aten.conv_depthwise3d.default", "conv_math", True),
    ("aten.col2im.default", "conv_math", True), ("aten.im2col.default", "conv_math", True),
    ("aten.unfold.default", "conv_math", False), ("aten.index_add.default", "conv_math", False),
    ("aten.bmm.default", "conv_math", False), ("aten._convert_indices_from_coo_to_csr.default", "conv_math", False),
])
def test_forbidden_operators_are_matched_by_name(op, part, forbidden):
    found = forbidden_ops([op], FromScratch.from_lab(LAB, part).forbidden)
    assert found == ([op.rsplit(".", 1)[0] if op.count(".") == 2 else op] if forbidden else [])


def test_a_wrong_pooling_exercise_says_where_without_the_right_values():
    """The exercises' results answer questions (Q6A_MAX_POOL, ...), so their feedback hides them."""
    right = torch.tensor([[4.0, 5.0], [1.0, 3.0]])
    assert exercise_mismatch(right.clone(), right) is None
    message = exercise_mismatch(torch.tensor([[4.0, 3.0], [1.0, 2.0]]), right)
    assert message == ("returned [[4, 3], [1, 2]], with 2 of its 4 elements wrong, at (0, 1), (1, 1) (row, column); "
                       "the right values are not shown, as they answer the lab's questions.")
    assert exercise_mismatch(torch.zeros(3, 3), right) == \
        "returned a tensor of shape (3, 3); the result has shape (2, 2)."
    assert exercise_mismatch([4, 5], right) == "returned [4, 5] (a list of 2 integers), not a tensor of shape (2, 2)."


def test_from_scratch_settings_are_checked(tmp_path):
    lab = LabConfig(tmp_path / "lab.toml", {"from_scratch": {"pooling": {"forbidden": "max_pool", "hint": "x"}}})
    with pytest.raises(ConfigError, match=r"\[from_scratch.pooling\] forbidden must be a list"):
        FromScratch.from_lab(lab, "pooling")
    with pytest.raises(ConfigError, match="has no setting `from_scratch.conv_math`"):
        FromScratch.from_lab(lab, "conv_math")


@pytest.mark.grades(POOLING)
def test_stride_ignored_fails_max_pool_properties_with_a_counterexample(corpus):
    failed = pooling_results(corpus.grade(POOLING, "stride_ignored"))
    assert "test_max_pool2d[shape]" in failed
    assert not any(k.startswith("test_avg_pool2d") for k in failed)
    message = failed["test_max_pool2d[shape]"]
    assert re.search(r"output shape should be \(.*\) \(H_out = floor\(\(H \+ 2p - k\)/s\) \+ 1\) but was", message)
    assert "Smallest failing input: x = tensor(" in message


@pytest.mark.grades(POOLING)
def test_average_that_ignores_padding_fails_matches_torch(corpus):
    failed = pooling_results(corpus.grade(POOLING, "avg_ignores_padding"))
    assert "test_avg_pool2d[matches_torch]" in failed
    assert "(property: matches_torch)" in failed["test_avg_pool2d[matches_torch]"]
    assert not any(k.startswith("test_max_pool2d") for k in failed)


@pytest.mark.grades(CONV_MATH)
def test_off_by_one_output_size_formula_fails(corpus):
    failed = corpus.grade(CONV_MATH, "off_by_one_size").failed()
    assert "(property: formula)" in failed["test_conv_math[conv_output_size-formula]"]


@pytest.mark.grades(POOLING, CONV_MATH)
def test_a_bug_in_one_part_leaves_the_answers_passing(corpus):
    # answers.py computes two of its answers with conv_output_size, so its bug reaches them too
    uses_conv_output_size = {"test_answer[NOTES_FLATTEN_SHAPE]", "test_answer[REPORT_SHAPES]"}
    cases = [*((POOLING, name, "pool", set()) for name in POOLING_CHEATS), (POOLING, "stride_ignored", "pool", set()),
             (POOLING, "avg_ignores_padding", "pool", set()),
             *((CONV_MATH, name, "conv", set()) for name in CONV_MATH_CHEATS),
             (CONV_MATH, "off_by_one_size", "conv", uses_conv_output_size)]
    for group, name, part, also in cases:
        result = corpus.grade(group, name)
        failed = set(result.failed())
        assert {check for check in failed if part not in check} == also, (name, sorted(failed))
        answers = {check for check in result.checks if check.startswith("test_answer")}
        assert len(answers) >= 19 and answers - also <= result.passed(), name


@pytest.fixture
def answered(corpus):
    """ANSWERS graded with a lab.toml that reveals REPORT_CONV1_PARAMS_RGB's answer (tests/corpus.py)."""
    return corpus.grade("custom_lab")


@pytest.mark.grades("custom_lab")
def test_right_answers_pass_in_any_form(answered):
    """Nested for flat and flat for nested lists, tuples, torch.Size, tensors, numpy arrays and scalars,
    2.0 for 2 and 3 for 3.0, any case."""
    names = ["Q6A_MAX_POOL", "Q6B_AVG_POOL", "WORKSHOP_MAX_POOL_2", "WORKSHOP_AVG_POOL_2", "WORKSHOP_MAX_POOL_3",
             "WORKSHOP_CONV_OUTPUT", "REPORT_CONV1_PARAMS_GREY", "REPORT_LARGEST_LAYER", "NOTES_FLATTEN_SHAPE",
             "NOTES_CIFAR_CNN_PARAMS", "NOTES_MLP_PARAMS"]
    assert {f"test_answer[{name}]" for name in names} <= answered.passed()


@pytest.mark.grades("custom_lab")
def test_a_revealed_question_shows_the_expected_value(answered):
    message = answered.failed()["test_answer[REPORT_CONV1_PARAMS_RGB]"]
    assert "REPORT_CONV1_PARAMS_RGB is wrong: you answered 1768; the expected answer is 7168." in message
    assert "Question: Project report: parameters of its first layer" in message


@pytest.mark.grades("custom_lab")
def test_answers_are_hidden_unless_revealed(answered):
    reference = InProcessSubmission(REFERENCE)
    wrong = {check.removeprefix("test_answer[").removesuffix("]"): message
             for check, message in answered.failed().items() if "is wrong" in message}
    assert set(wrong) == {"REPORT_CONV1_PARAMS_RGB", "REPORT_TOTAL_PARAMS", "LAB_NET_PARAMS", "REPORT_SHAPES",
                          "REPORT_MAX_POOL"}
    for name, message in wrong.items():
        if name != "REPORT_CONV1_PARAMS_RGB":
            about_the_answer = message.split(" Question: ")[0].split("; the expected answer")[1]
            assert about_the_answer.startswith(" (not shown) is ")
            assert show(reference.constant(name)) not in about_the_answer, name


@pytest.mark.grades("custom_lab")
def test_a_wrong_answer_states_the_expected_form(answered):
    failed = answered.failed()
    expected = {
        "REPORT_TOTAL_PARAMS": "REPORT_TOTAL_PARAMS is wrong: you answered 16154944; the expected answer (not "
                               "shown) is an integer.",
        "LAB_NET_PARAMS": "LAB_NET_PARAMS is wrong: you answered '21840' (a string); the expected answer (not shown) "
                          "is an integer.",
        "REPORT_SHAPES": "you answered [[256, 256, 256], [256, 128, 128]] (a 2x3 list of integers); the expected "
                         "answer (not shown) is a 6x3 list of integers (row by row).",
        "REPORT_MAX_POOL": "you answered [0.3092, 0.2652, 0.6069] (a list of 3 numbers); the expected answer (not "
                           "shown) is a 2x2 list of numbers (row by row).",
    }
    for name, words in expected.items():
        assert words in failed[f"test_answer[{name}]"], name


@pytest.mark.grades("custom_lab")
def test_a_number_given_as_a_string_is_wrong(answered):
    assert "you answered '21840'" in answered.failed()["test_answer[LAB_NET_PARAMS]"]
    assert "test_answer[LAB_NET_PARAMS]" not in answered.passed()


@pytest.mark.grades("custom_lab")
def test_missing_answers_say_what_is_missing(answered):
    assert "answers.py does not define `WIKI_MLP_PARAMS`" in answered.failed()["test_answer[WIKI_MLP_PARAMS]"]


@pytest.mark.parametrize(("expected", "given"), [
    ([4.0, 5.0, 1.0, 3.0], [[4, 5], [1, 3]]), ([4.0, 5.0, 1.0, 3.0], (4, 5, 1, 3)),
    ([4.0, 5.0, 1.0, 3.0], torch.tensor([[4.0, 5.0], [1.0, 3.0]])), ([4.0, 5.0, 1.0, 3.0], np.array([4, 5, 1, 3])),
    ([[4.0, 5.0], [1.0, 3.0]], [4, 5, 1, 3]), ([[4.0, 5.0], [1.0, 3.0]], torch.tensor([4.0, 5.0, 1.0, 3.0])),
    ([32, 16, 16], torch.Size([32, 16, 16])), ([32, 16, 16], (32.0, 16.0, 16.0)), ((2, 2), [2, 2]),
    (7168, 7168.0), (7168, np.int64(7168)), (3.0, 3), (3.0, torch.tensor(3.0)), (0.5767, 0.57669),
    ("fc1", " FC1 "),
])
def test_the_same_answer_in_another_form_counts(expected, given):
    assert same_answer(expected, given)


@pytest.mark.parametrize(("expected", "given"), [
    (21840, "21840"), (7168, 7170), (16154950, 16154944), ([4.0, 5.0, 1.0, 3.0], [4, 5, 1]),
    ([[1, 2], [3, 4]], [[1, 3], [2, 4]]), ([[1, 2], [3, 4]], [[1], [2], [3], [4]]), ([1, 2, 3], ["1", "2", "3"]),
    (1, True), ("fc1", "fc2"),
])
def test_a_different_answer_does_not_count(expected, given):
    assert not same_answer(expected, given)


@pytest.mark.parametrize(("value", "words"), [
    (7168, "an integer"), (3.0, "a number"), ("fc1", "a string"), ([4.0, 5.0, 1.0, 3.0], "a list of 4 numbers"),
    ([[4.0, 5.0], [1.0, 3.0]], "a 2x2 list of numbers (row by row)"), ((32, 16, 16), "a tuple of 3 integers"),
    ([[256, 256, 256]] * 6, "a 6x3 list of integers (row by row)"), ([1, "a"], "a list of 2 values"),
])
def test_the_form_of_an_answer_is_described_in_words(value, words):
    assert describe(value) == words


def test_reveal_takes_all_or_a_list_of_names_and_the_old_hidden_key_is_refused():
    assert not revealed({}, "Q6A_MAX_POOL")
    assert revealed({"questions": {"reveal": "all"}}, "Q6A_MAX_POOL")
    assert revealed({"questions": {"reveal": ["Q6A_MAX_POOL"]}}, "Q6A_MAX_POOL")
    assert not revealed({"questions": {"reveal": ["Q6A_MAX_POOL"]}}, "Q6B_AVG_POOL")
    with pytest.raises(ConfigError, match="reveal must be"):
        revealed({"questions": {"reveal": "Q6A_MAX_POOL"}}, "Q6A_MAX_POOL")
    with pytest.raises(ConfigError, match=r"hidden is no longer read"):
        revealed({"questions": {"hidden": ["Q6A_MAX_POOL"]}}, "Q6A_MAX_POOL")
    assert not revealed(LAB.data, "Q6A_MAX_POOL")


def test_a_long_answer_is_cut_in_feedback():
    message = verdict("X", 1, list(range(1000)), reveal=False)
    assert len(message) < 320 and "..." in message
