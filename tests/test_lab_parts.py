"""The pooling, conv-math and question graders fail submissions with the matching bug."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.mutation import mutate
from tests.paths import ROOT

REFERENCE = ROOT / "reference"
POOLING = REFERENCE / "pooling.py"
LAB_PART_GRADERS = ("test_3_pooling.py", "test_4_conv_math.py", "test_5_questions.py")


def submission_with(tmp_path: Path, name: str, text: str) -> Path:
    """A submission directory holding the reference's files, ``name`` replaced by ``text``."""
    directory = tmp_path / "submission"
    directory.mkdir(exist_ok=True)
    for path in REFERENCE.glob("*.py"):
        shutil.copy(path, directory)
    (directory / name).write_text(text)
    return directory


def grade_parts(grade, submission: Path, *options: str):
    return grade(submission, *options, files=LAB_PART_GRADERS)


TORCH_POOLING = '''import torch.nn.functional as F


def max_pool2d(x, kernel_size, stride=None, padding=0):
    flat = x.reshape(-1, 1, *x.shape[-2:])
    out = F.max_pool2d(flat, kernel_size, stride, padding)
    return out.reshape(*x.shape[:-2], *out.shape[-2:])


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    flat = x.reshape(-1, 1, *x.shape[-2:])
    out = F.avg_pool2d(flat, kernel_size, stride, padding)
    return out.reshape(*x.shape[:-2], *out.shape[-2:])
'''


def pooling_results(result) -> dict[str, str]:
    return {k: v for k, v in result.failed().items() if "pool" in k}


def test_pooling_that_calls_torch_fails_only_from_scratch(grade, tmp_path):
    result = grade_parts(grade, submission_with(tmp_path, "pooling.py", TORCH_POOLING))
    failed = pooling_results(result)
    assert set(failed) == {"test_pooling_from_scratch"}
    assert "max_pool2d uses torch's own aten.max_pool2d_with_indices" in failed["test_pooling_from_scratch"]
    assert {"test_max_pool2d[matches_torch]", "test_pooling_exercises"} <= result.passed()


def test_stride_ignored_fails_max_pool_properties_with_a_counterexample(grade, tmp_path):
    text = mutate(POOLING.read_text(), "max_pool2d",
                  {'sh, sw = (kh, kw) if stride is None else pair(stride, "stride")': "sh, sw = kh, kw"})
    failed = pooling_results(grade_parts(grade, submission_with(tmp_path, "pooling.py", text)))
    assert "test_max_pool2d[shape]" in failed
    assert not any(k.startswith("test_avg_pool2d") for k in failed)
    message = failed["test_max_pool2d[shape]"]
    assert re.search(r"output shape should be \(.*\) \(H_out = floor\(\(H \+ 2p - k\)/s\) \+ 1\) but was", message)
    assert "Smallest failing input: x = tensor(" in message


def test_average_that_ignores_padding_fails_matches_torch(grade, tmp_path):
    text = mutate(POOLING.read_text(), "avg_pool2d",
                  {"windows.sum(dim=(-2, -1)) / (kh * kw)": "windows.sum(dim=(-2, -1)) / (kh * kw - 2 * ph * pw)"})
    failed = pooling_results(grade_parts(grade, submission_with(tmp_path, "pooling.py", text)))
    assert "test_avg_pool2d[matches_torch]" in failed
    assert "(property: matches_torch)" in failed["test_avg_pool2d[matches_torch]"]
    assert not any(k.startswith("test_max_pool2d") for k in failed)


def test_conv_math_that_calls_torch_fails_from_scratch(grade, tmp_path):
    text = (REFERENCE / "conv_math.py").read_text() + (
        "\n\nimport torch.nn.functional as F\n\n\ndef unfold(x, kernel_size, stride=1, padding=0):\n"
        "    return F.unfold(x, kernel_size, stride=stride, padding=padding)\n")
    result = grade_parts(grade, submission_with(tmp_path, "conv_math.py", text))
    failed = result.failed()
    assert "unfold uses torch's own aten.im2col" in failed["test_unfold_fold_conv_from_scratch"]
    assert "test_conv_math[unfold-matches_torch]" in result.passed()


def test_off_by_one_output_size_formula_fails(grade, tmp_path):
    text = (REFERENCE / "conv_math.py").read_text() + (
        "\n\ndef conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
        "    return (size + 2 * padding - dilation * (kernel_size - 1)) // stride\n")
    failed = grade_parts(grade, submission_with(tmp_path, "conv_math.py", text)).failed()
    assert "(property: formula)" in failed["test_conv_math[conv_output_size-formula]"]


ANSWERS = '''
Q6A_MAX_POOL = [4, 5, 1, 3]
Q6B_AVG_POOL = (2.5, 2.5, 0.5, 2)
REPORT_CONV1_PARAMS_RGB = 1768
REPORT_LARGEST_LAYER = " FC1 "
LAB_NET_PARAMS = "21840"
'''


@pytest.fixture
def answered(grade, tmp_path):
    return grade_parts(grade, submission_with(tmp_path, "answers.py", ANSWERS))


def test_right_answers_pass_in_any_container_and_case(answered):
    assert {"test_answer[Q6A_MAX_POOL]", "test_answer[Q6B_AVG_POOL]", "test_answer[REPORT_LARGEST_LAYER]"} <= \
        answered.passed()


def test_the_seeds_wrong_parameter_count_is_caught_with_the_expected_value(answered):
    message = answered.failed()["test_answer[REPORT_CONV1_PARAMS_RGB]"]
    assert "REPORT_CONV1_PARAMS_RGB is wrong: you answered 1768; the expected answer is 7168." in message
    assert "Question: Project report: parameters of its first layer" in message


def test_a_number_given_as_a_string_is_wrong(answered):
    assert "you answered '21840'" in answered.failed()["test_answer[LAB_NET_PARAMS]"]


def test_missing_answers_say_what_is_missing(answered):
    assert "answers.py does not define `WIKI_MLP_PARAMS`" in answered.failed()["test_answer[WIKI_MLP_PARAMS]"]


def test_hidden_questions_do_not_show_the_expected_answer(grade, tmp_path):
    config = tmp_path / "lab.toml"
    hidden = '\n[questions]\nhidden = ["REPORT_CONV1_PARAMS_RGB"]\n'
    config.write_text((ROOT / "graders" / "lab.toml").read_text() + hidden)
    result = grade_parts(grade, submission_with(tmp_path, "answers.py", ANSWERS), f"--lab-config={config}")
    message = result.failed()["test_answer[REPORT_CONV1_PARAMS_RGB]"]
    assert "you answered 1768." in message and "7168" not in message
