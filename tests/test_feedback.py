"""What a student sees: one clear message per mistake, the score last, internal errors as bugs.

The gradings are groups of tests/corpus.py: ``reference`` (the reference graded as a student runs
``pytest graders --submission reference``), ``feedback_notebook`` (the notebook template alone:
Net only, three parts missing), ``feedback_first_attempt`` (pooling that takes an omitted stride as 1,
an off-by-one conv_output_size that unfold, fold and conv2d_unfold call, a log_softmax without dim).
"""

from __future__ import annotations

import json
import re
import shutil
import sys

import nbformat
import pytest
import torch.nn.functional as F

from cnngrade.grader.checks import LAB_SUPPORTS
from cnngrade.grader.invocation import run_graders
from cnngrade.grader.scoring import INTERNAL_ERROR, Scoreboard
from cnngrade.properties import PropertyFailed, check_max_pool2d
from tests.corpus import GROUPS, REFERENCE
from tests.paths import ROOT
from tests.sandboxes import sandbox_or_skip

#: a screen
SCREEN_LINES = 25
FIRST = "feedback_first_attempt"
PROPERTY_NAME = re.compile(r" ?\(property: [\w-]+\)")


def flat(text: str) -> str:
    """``text`` with every run of whitespace one space (the report wraps long messages)."""
    return " ".join(text.split())


def printed(grade, message: str) -> int:
    """How often ``message`` appears in the output of ``grade``'s run, whatever its wrapping."""
    return flat(grade.stdout).count(flat(message))


def assert_score_is_last(grade) -> None:
    lines = grade.stdout.rstrip().splitlines()
    assert lines[-1] == f"Score: {grade.score:g}/{grade.max_score:g}", lines[-3:]


def assert_no_pytest_noise(stdout: str) -> None:
    """No pytest-benchmark header or table, no FAILURES / short summary / warnings summary sections."""
    for noise in ("benchmark:", "Legend:", "FAILURES", "short test summary info", "warnings summary",
                  "Traceback", "During handling of the above exception"):
        assert noise not in stdout, noise


# --------------------------------------------------------------------------- a good submission


@pytest.mark.grades("reference")
def test_the_reference_graded_as_a_student_runs_it_fits_on_one_screen(corpus):
    grade = corpus.grade("reference")
    assert grade.failed() == {} and grade.score == grade.max_score
    lines = grade.stdout.rstrip().splitlines()
    assert len(lines) <= SCREEN_LINES, grade.stdout
    assert lines[0].startswith("=") and "test session starts" in lines[0]  # the student's command's header
    assert_score_is_last(grade)
    assert_no_pytest_noise(grade.stdout)
    assert "PASS" not in grade.stdout  # passed checks are counted, not listed
    assert re.search(r"\d+ checks: \d+ passed, \d skipped; --all-checks or -v lists them all\.", grade.stdout)


def test_benchmark_output_comes_only_when_asked_for(tmp_path, warm):
    """The speed check's figures go to pytest-benchmark with --benchmark-json (its table then prints)."""
    target = tmp_path / "bench.json"
    grade = run_graders(REFERENCE, ROOT / "graders", f"--benchmark-json={target}", cwd=tmp_path,
                        files=("test_8_speed.py",), runner=warm)
    assert grade.failed() == {}
    assert "benchmark: 1 tests" in grade.stdout and "Legend:" in grade.stdout
    assert_score_is_last(grade)
    (benchmark,) = json.loads(target.read_text())["benchmarks"]
    assert {"student_fps", "reference_fps", "ratio"} <= set(benchmark["extra_info"])


# --------------------------------------------------------------------------- one message per mistake


@pytest.mark.grades(FIRST)
def test_each_failure_message_is_printed_once(corpus):
    grade = corpus.grade(FIRST)
    failed = grade.failed()
    assert len(failed) >= 20
    assert_score_is_last(grade)
    assert_no_pytest_noise(grade.stdout)
    problems: dict[str, list[str]] = {}
    for message in failed.values():
        assert printed(grade, message) <= 1, message
        problems.setdefault(PROPERTY_NAME.sub("", message), []).append(message)
    for messages in problems.values():  # properties that fail on the same input: one entry, one message
        assert sum(printed(grade, m) for m in messages) == 1, messages
    # 4 properties of max_pool2d fail on the same smallest input: one entry for the 4 checks
    assert "max_pool2d property: shape (and 3 more checks that fail the same way)" in grade.stdout


@pytest.mark.grades(FIRST)
def test_a_warning_of_the_submission_is_shown_once_without_the_tests_it_was_raised_in(corpus):
    grade = corpus.grade(FIRST)
    assert printed(grade, "UserWarning: Implicit dimension choice for log_softmax has been deprecated") == 1
    assert re.search(r"Warning \(\d+ times\): lab4_cnn\.py:\d+: UserWarning", grade.stdout)
    assert "graders/test_2_forward.py:" not in grade.stdout


@pytest.mark.grades(FIRST, "lab_conv_math")
def test_checks_that_fail_because_of_conv_output_size_say_to_fix_it_first(corpus):
    failed = corpus.grade(FIRST).failed()
    note = "fix `conv_output_size` first"
    assert note not in failed["test_conv_math[conv_output_size-formula]"]
    dependent = {name for name in failed if re.match(r"test_conv_math\[(unfold|fold|conv2d_unfold)-", name)}
    assert len(dependent) >= 10
    for name in dependent:  # (fold and conv2d_unfold: "fix `conv_output_size` and `unfold` first")
        assert "fix `conv_output_size`" in failed[name], (name, failed[name])
        assert f"If {name.split('[')[1].split('-')[0]} calls" in failed[name]
    for answer in ("test_answer[REPORT_SHAPES]", "test_answer[NOTES_FLATTEN_SHAPE]"):
        assert f"If you computed {answer[12:-1]} with it, {note}" in failed[answer]
    assert "fix `max_pool2d` first" in failed["test_answer[Q6A_MAX_POOL]"]
    assert "fix `avg_pool2d` first" in failed["test_answer[Q6B_AVG_POOL]"]
    # the off-by-one of tests/corpus.py (unfold does not call it): its answers are sent to it too
    off_by_one = corpus.grade("lab_conv_math", "off_by_one_size").failed()
    assert note in off_by_one["test_answer[REPORT_SHAPES]"]
    assert not any(note in message for name, message in off_by_one.items() if "unfold" in name)


@pytest.mark.grades(FIRST, "lab_pooling")
def test_pooling_shape_failures_state_the_stride_default_where_the_stride_was_omitted(corpus):
    message = corpus.grade(FIRST).failed()["test_max_pool2d[shape]"]
    assert "the call omits stride, and an omitted stride means stride = kernel_size" in message
    assert re.search(r"output shape should be \(.*\) \(H_out = floor\(\(H \+ 2p - k\)/s\) \+ 1\) but was", message)
    # a stride given and ignored: no word on the default
    ignored = corpus.grade("lab_pooling", "stride_ignored").failed()["test_max_pool2d[shape]"]
    assert "stride" in ignored and "omitted stride" not in ignored


def _pool(stride_when_omitted: int | None):
    """max_pool2d through torch, taking an omitted stride as ``stride_when_omitted`` (None: the kernel
    size, as torch does), and ignoring a given stride when ``stride_when_omitted`` is None."""
    def pool(x, kernel_size, stride=None, padding=0):
        flat_x = x.reshape(-1, 1, *x.shape[-2:])
        used = stride_when_omitted if stride is None else stride
        out = F.max_pool2d(flat_x, kernel_size, kernel_size if stride_when_omitted is None else used, padding)
        return out.reshape(*x.shape[:-2], *out.shape[-2:])
    return pool


@pytest.mark.parametrize(("stride_when_omitted", "noted"), [(1, True), (None, False)])
def test_the_stride_note_of_the_properties_appears_only_where_the_call_omits_the_stride(stride_when_omitted, noted):
    with pytest.raises(PropertyFailed) as info:
        check_max_pool2d(_pool(stride_when_omitted), supports=LAB_SUPPORTS, only="shape", profile="ci")
    message = str(info.value)
    assert "output shape should be" in message
    assert ("an omitted stride means stride = kernel_size" in message) == noted, message


# --------------------------------------------------------------------------- missing parts


@pytest.mark.grades("feedback_notebook")
def test_a_notebook_holding_only_net_gets_one_message_per_missing_part(corpus):
    grade = corpus.grade("feedback_notebook")
    assert_score_is_last(grade)
    assert_no_pytest_noise(grade.stdout)
    failed = grade.failed()
    for part, prefix in (("pooling", ("test_max_pool2d", "test_avg_pool2d", "test_pooling")),
                         ("conv_math", ("test_conv_math", "test_unfold")), ("answers", ("test_answer",))):
        checks = {name: message for name, message in failed.items() if name.startswith(prefix)}
        assert len(checks) >= 3, part
        (message,) = set(checks.values())  # every check of the part: the same message
        assert message.startswith(f"The submission has no {part}.py")
        assert f"put {part}.py (from student_templates/) next to your notebook, in one folder" in message
        assert printed(grade, message) == 1, message
        for name in checks:  # failed, and counted: 0 of its points
            assert grade.checks[name]["score"] == 0 < grade.checks[name]["max_score"]
    net = failed["test_net_builds"]
    assert "not implemented yet" in net and printed(grade, net) == 1
    assert len(grade.stdout.splitlines()) <= 60, grade.stdout


def test_the_notebook_template_says_how_to_hand_in_the_other_parts():
    notebook = nbformat.read(ROOT / "student_templates" / "lab4.ipynb", as_version=4)
    text = flat(" ".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown"))
    assert "Hand in one folder holding this notebook and the lab's other files" in text
    for file in ("pooling.py", "conv_math.py", "answers.py"):
        assert file in text


# --------------------------------------------------------------------------- internal errors

BROKEN_GRADERS = '''
import pytest

from cnngrade.grader.feedback import fail


@pytest.mark.points(2)
def test_bug(submission):
    """A grader with a bug"""
    {}["missing"]


@pytest.mark.points(1)
def test_feedback(submission):
    """A grader that fails with feedback"""
    try:
        {}["x"]
    except KeyError:
        fail("Expected 1, saw 2.")


@pytest.mark.points(1)
def test_ok(submission):
    """A grader that passes"""
'''


def test_a_grader_that_raises_is_reported_as_an_internal_error(tmp_path, warm):
    graders = tmp_path / "graders"
    graders.mkdir()
    (graders / "test_broken.py").write_text(BROKEN_GRADERS)
    shutil.copy(ROOT / "graders" / "lab.toml", graders / "lab.toml")  # a run without its lab.toml is refused
    grade = run_graders(REFERENCE, graders, cwd=tmp_path, runner=warm)
    assert set(grade.internal_errors()) == {"test_bug"}
    output = grade.internal_errors()["test_bug"]
    assert output.startswith(f"{INTERNAL_ERROR}: KeyError: 'missing'\nThis is a bug in cnngrade")
    assert 'test_broken.py", line 10, in test_bug' in output and "pluggy" not in output
    assert grade.failed()["test_feedback"] == "Expected 1, saw 2."  # no exception chained to it
    assert (grade.score, grade.max_score) == (1, 4)
    assert "0/2  ERROR  A grader with a bug" in grade.stdout
    assert printed(grade, "Expected 1, saw 2.") == 1
    assert "1 ended in an internal error" in grade.stdout
    assert_score_is_last(grade)
    # --tb asks for pytest's own sections: they show the failures, the report only lists them
    explicit = warm([sys.executable, "-m", "pytest", str(graders), f"--rootdir={tmp_path}", "-p", "no:cacheprovider",
                     f"--submission={REFERENCE}", "--tb=short"], cwd=tmp_path, env=None, timeout=300)
    assert "FAILURES" in explicit.stdout and "E   KeyError: 'missing'" in explicit.stdout
    assert explicit.stdout.count("Expected 1, saw 2.") == 2  # its FAILURES entry and its summary line


@pytest.mark.parametrize("group", [pytest.param(name, marks=pytest.mark.grades(name)) for name in GROUPS])
def test_no_check_of_the_corpus_ends_in_an_internal_error(corpus, group):
    if GROUPS[group].isolated:
        sandbox_or_skip()
    for name, grade in corpus.graded(group).grades.items():
        assert grade.internal_errors() == {}, (name, grade.internal_errors())


# --------------------------------------------------------------------------- the report itself


def board_of_a_first_attempt() -> Scoreboard:
    board = Scoreboard()
    board.record("a", "test_a", "A", 5, "failed", "Net() is not implemented yet.")
    board.record("b", "test_b[shape]", "B: shape", 1, "failed", "f(x) should be 1. (property: shape)")
    board.record("c", "test_b[scale]", "B: scale", 1, "failed", "f(x) should be 1. (property: scale)")
    board.record("d", "test_d", "D", 2, "passed", "")
    board.record("e", "test_e", "E", 5, "failed", "Net() is not implemented yet.")
    board.record("f", "test_f", "F", 3, "skipped", "no GPU")
    board.record("g", "test_g", "G", 2, "error", f"{INTERNAL_ERROR}: KeyError: 'x'")
    return board


def test_the_compact_report_folds_the_checks_that_fail_the_same_way():
    assert board_of_a_first_attempt().report(width=200) == [
        "   0/10  FAIL  A (and 1 more check that fails the same way)",
        "      Net() is not implemented yet.",
        "    0/2  FAIL  B: shape (and 1 more check that fails the same way)",
        "      f(x) should be 1. (property: shape)",
        "      -  SKIP  F (no GPU; not in the score)",
        "    0/2  ERROR  G",
        f"      {INTERNAL_ERROR}: KeyError: 'x'",
        "7 checks: 1 passed, 4 failed, 1 skipped, 1 ended in an internal error; --all-checks or -v lists them all.",
        "Score: 2/16",
    ]


def test_the_full_report_lists_every_check_and_each_message_once():
    lines = board_of_a_first_attempt().report(every_check=True, width=200)
    assert lines[:7] == [
        "    0/5  FAIL  A",
        "      Net() is not implemented yet.",
        "    0/1  FAIL  B: shape",
        "      f(x) should be 1. (property: shape)",
        "    0/1  FAIL  B: scale (the same message as above)",
        "    2/2  PASS  D",
        "    0/5  FAIL  E (the same message as above)",
    ]
    assert board_of_a_first_attempt().gradescope()["tests"][-1]["status"] == "failed"
