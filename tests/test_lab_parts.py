"""The pooling, conv-math and question graders fail submissions with the matching bug."""

from __future__ import annotations

import re

import pytest

POOLING, CONV_MATH = "lab_pooling", "lab_conv_math"


def pooling_results(result) -> dict[str, str]:
    return {k: v for k, v in result.failed().items() if "pool" in k}


@pytest.mark.grades(POOLING)
def test_pooling_that_calls_torch_fails_only_from_scratch(corpus):
    result = corpus.grade(POOLING, "torch_pooling")
    assert set(result.failed()) == {"test_pooling_from_scratch"}
    assert "max_pool2d uses torch's own aten.max_pool2d_with_indices" in result.failed()["test_pooling_from_scratch"]
    assert {"test_max_pool2d[matches_torch]", "test_pooling_exercises"} <= result.passed()


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
def test_conv_math_that_calls_torch_fails_from_scratch(corpus):
    result = corpus.grade(CONV_MATH, "torch_unfold")
    assert "unfold uses torch's own aten.im2col" in result.failed()["test_unfold_fold_conv_from_scratch"]
    assert "test_conv_math[unfold-matches_torch]" in result.passed()


@pytest.mark.grades(CONV_MATH)
def test_off_by_one_output_size_formula_fails(corpus):
    failed = corpus.grade(CONV_MATH, "off_by_one_size").failed()
    assert "(property: formula)" in failed["test_conv_math[conv_output_size-formula]"]


@pytest.mark.grades(POOLING, CONV_MATH)
def test_a_bug_in_one_part_leaves_the_answers_passing(corpus):
    # answers.py computes two of its answers with conv_output_size, so its bug reaches them too
    uses_conv_output_size = {"test_answer[NOTES_FLATTEN_SHAPE]", "test_answer[REPORT_SHAPES]"}
    cases = [(POOLING, "torch_pooling", "pool", set()), (POOLING, "stride_ignored", "pool", set()),
             (POOLING, "avg_ignores_padding", "pool", set()), (CONV_MATH, "torch_unfold", "conv", set()),
             (CONV_MATH, "off_by_one_size", "conv", uses_conv_output_size)]
    for group, name, part, also in cases:
        result = corpus.grade(group, name)
        failed = set(result.failed())
        assert {check for check in failed if part not in check} == also, (name, sorted(failed))
        answers = {check for check in result.checks if check.startswith("test_answer")}
        assert len(answers) >= 19 and answers - also <= result.passed(), name


@pytest.fixture
def answered(corpus):
    """ANSWERS graded with a lab.toml that hides LAB_NET_PARAMS's answer (tests/corpus.py)."""
    return corpus.grade("custom_lab")


@pytest.mark.grades("custom_lab")
def test_right_answers_pass_in_any_container_and_case(answered):
    assert {"test_answer[Q6A_MAX_POOL]", "test_answer[Q6B_AVG_POOL]", "test_answer[REPORT_LARGEST_LAYER]"} <= \
        answered.passed()


@pytest.mark.grades("custom_lab")
def test_the_seeds_wrong_parameter_count_is_caught_with_the_expected_value(answered):
    message = answered.failed()["test_answer[REPORT_CONV1_PARAMS_RGB]"]
    assert "REPORT_CONV1_PARAMS_RGB is wrong: you answered 1768; the expected answer is 7168." in message
    assert "Question: Project report: parameters of its first layer" in message


@pytest.mark.grades("custom_lab")
def test_a_number_given_as_a_string_is_wrong(answered):
    assert "you answered '21840'" in answered.failed()["test_answer[LAB_NET_PARAMS]"]
    assert "test_answer[LAB_NET_PARAMS]" not in answered.passed()


@pytest.mark.grades("custom_lab")
def test_missing_answers_say_what_is_missing(answered):
    assert "answers.py does not define `WIKI_MLP_PARAMS`" in answered.failed()["test_answer[WIKI_MLP_PARAMS]"]


@pytest.mark.grades("custom_lab")
def test_hidden_questions_do_not_show_the_expected_answer(answered):
    message = answered.failed()["test_answer[LAB_NET_PARAMS]"]
    assert "LAB_NET_PARAMS is wrong: you answered '21840'. Question:" in message
    assert "expected answer" not in message
