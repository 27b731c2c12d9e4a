"""A lab is data: labs/ holds other labs than the default one, each a ``lab.toml`` (its file contract,
architecture, inputs, dataset, points) with a reference and templates, graded by the same graders
with ``--lab DIR``; their buggy submissions are in tests/labs/LAB/.

Groups of tests/corpus.py: ``lab_mlp`` (the DPS921 wiki's MLP on MNIST, every check), ``lab_pima`` (the
Unit 4 notes' binary MLP on the Pima Indians diabetes data its lab ships),
``lab_report`` (the final project report's 16-million-parameter CNN, the checks named in
``REPORT_CNN_CHECKS``; its full grading is benchmarks/test_lab_gradings.py's), ``lab_cifar`` and
``lab_cifar_net`` (the Unit 4 notes' CIFAR-10 CNN, on a small generated dataset in CIFAR-10's layout:
tests/cifar_data.py).
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize

import pytest

from cnngrade.lab.config import LabConfig
from cnngrade.lab.parts import Parts, PartsError
from tests.paths import ROOT

MLP, REPORT, CIFAR, CIFAR_NET = "lab_mlp", "lab_report", "lab_cifar", "lab_cifar_net"
PIMA = "lab_pima"


def not_implemented(grade) -> bool:
    return all("not implemented yet" in message for message in grade.failed().values())


@pytest.mark.grades(MLP)
def test_the_mlp_labs_reference_gets_full_marks_and_its_template_none(corpus):
    reference = corpus.grade(MLP, "reference")
    assert reference.failed() == {} and reference.score == reference.max_score == 115
    assert {"test_architecture", "test_parameter_count", "test_learns", "test_inference_speed",
            "test_runs_without_cuda"} <= reference.passed()
    assert "test_dropout_placement" not in reference.checks  # the lab has no dropout
    assert not any(name.startswith(("test_max_pool2d", "test_conv_math", "test_answer")) for name in reference.checks)
    template = corpus.grade(MLP, "student_templates")
    assert template.score == 0 and template.failed() and not_implemented(template), template.failed()


@pytest.mark.grades(MLP)
@pytest.mark.parametrize(("name", "failed", "words"), [
    ("no_flatten", "test_output_shape", "mat1 and mat2 shapes cannot be multiplied"),
    ("missing_relu", "test_architecture", "ReLU"),
    ("softmax_output", "test_log_softmax", "log"),
    ("wider_hidden", "test_parameter_count", "113,546 parameters; the lab's Net has 59,210"),
])
def test_a_buggy_mlp_fails_the_check_it_should(corpus, name, failed, words):
    grade = corpus.grade(MLP, name)
    assert failed in grade.failed(), grade.failed()
    assert words in " ".join(grade.failed()[failed].split()), grade.failed()[failed]
    assert grade.score < grade.max_score


@pytest.mark.grades(REPORT)
def test_the_report_cnn_labs_reference_passes_and_its_template_does_not(corpus):
    reference = corpus.grade(REPORT, "reference")
    assert reference.failed() == {} and reference.score == reference.max_score > 0
    assert {"test_architecture", "test_output_shape"} <= reference.passed()
    template = corpus.grade(REPORT, "student_templates")
    assert template.score == 0 and not_implemented(template), template.failed()


@pytest.mark.grades(REPORT)
@pytest.mark.parametrize(("name", "failed", "words"), [
    ("ten_classes", "test_output_shape", "has shape (1, 10); expected (1, 6)"),
    ("no_relu_after_fc1", "test_architecture", "ReLU"),
    ("padded_conv3", "test_architecture", "conv3: the lab's Conv2d(128 -> 64, kernel 3); ReportCNN's has padding 1."),
])
def test_a_buggy_report_cnn_fails_the_check_it_should(corpus, name, failed, words):
    grade = corpus.grade(REPORT, name)
    assert failed in grade.failed(), grade.failed()
    assert words in " ".join(grade.failed()[failed].split()), grade.failed()[failed]


@pytest.mark.grades(CIFAR)
def test_the_cifar10_labs_reference_learns_and_its_template_fails(corpus):
    """The reference, raw scores trained with cross-entropy, learns the generated CIFAR-10; the templates
    fail every check saying "not implemented"."""
    reference = corpus.grade(CIFAR, "reference")
    assert reference.failed() == {} and reference.score == reference.max_score == 120
    assert {"test_learns", "test_architecture", "test_parameter_count", "test_inference_speed",
            "test_logits"} <= reference.passed()
    assert "test_log_softmax" not in reference.checks
    template = corpus.grade(CIFAR, "student_templates")
    assert template.score == 0 and not_implemented(template), template.failed()
    assert " ".join(template.failed()["test_net_builds"].split()).startswith(
        "CifarNet() is not implemented yet (cifar10_cnn.py, line")


@pytest.mark.grades(CIFAR_NET)
def test_a_cifar10_net_that_starts_from_zero_weights_fails_only_learns(corpus):
    zeros = corpus.grade(CIFAR_NET, "zeros_init")
    assert set(zeros.failed()) == {"test_learns"}, zeros.failed()
    assert {"test_architecture", "test_parameter_count", "test_every_parameter_gets_gradient"} <= zeros.passed()
    learns = " ".join(zeros.failed()["test_learns"].split())
    assert "on the cifar10 test set" in learns
    assert "returns raw class scores (logits), as the cross_entropy loss expects" in learns


@pytest.mark.grades(CIFAR_NET)
@pytest.mark.parametrize(("name", "failed", "words"), [
    ("narrow_fc3", "test_parameter_count", "CifarNet has 2,110,122 parameters; the lab's CifarNet has 4,210,090"),
    ("no_padding", "test_architecture", "conv2: the lab's Conv2d(32 -> 32, kernel 3, padding 1); CifarNet's has "
                                        "padding 0."),
    ("dropout_p", "test_dropout_placement", "0.5"),
])
def test_a_buggy_cifar10_net_fails_the_check_it_should(corpus, name, failed, words):
    grade = corpus.grade(CIFAR_NET, name)
    assert failed in grade.failed(), grade.failed()
    assert words in " ".join(grade.failed()[failed].split()), grade.failed()[failed]


@pytest.mark.grades(PIMA)
def test_the_pima_labs_reference_gets_full_marks_on_the_labs_own_tabular_data(corpus):
    """The Unit 4 notes' binary MLP, sigmoid output trained with BCE, learns the Pima Indians diabetes
    data that ships with the lab (labs/pima-mlp/dataset/pima.csv, named with its sha256 in lab.toml)."""
    reference = corpus.grade(PIMA, "reference")
    assert reference.failed() == {} and reference.score == reference.max_score > 0
    assert {"test_learns", "test_architecture", "test_parameter_count", "test_inference_speed"} <= reference.passed()
    learns = " ".join(reference.checks["test_learns"]["output"].split())
    assert "on the pima test set" in learns and "72.00%" in learns, learns
    template = corpus.grade(PIMA, "student_templates")
    assert template.score == 0 and not_implemented(template), template.failed()


@pytest.mark.grades(PIMA)
@pytest.mark.parametrize("name", ["no_sigmoid", "tanh_for_relu"])
def test_a_buggy_pima_mlp_fails_the_architecture(corpus, name):
    grade = corpus.grade(PIMA, name)
    assert "test_architecture" in grade.failed(), grade.failed()


@pytest.mark.grades(MLP, REPORT, CIFAR)
def test_checks_a_lab_does_not_have_are_left_out_saying_so_once(corpus):
    mlp = " ".join(corpus.grade(MLP, "reference").stdout.split())
    assert "Not in this lab, left out: 35 checks of max_pool2d, avg_pool2d, conv_output_size" in mlp
    assert "Not in this lab, left out: 1 check of its questions" in mlp
    assert "left out: 1 check of its dropout or dropout2d (no such layer in [architecture] of lab.toml)" in mlp
    assert mlp.count("Not in this lab") == 3  # (the output checks of other kinds go unsaid)
    report = " ".join(corpus.grade(REPORT, "reference").stdout.split())
    assert "left out: 2 checks of its accuracy (no [accuracy] dataset in lab.toml)" in report
    cifar = " ".join(corpus.grade(CIFAR, "reference").stdout.split())
    assert cifar.count("Not in this lab") == 2  # its parts and questions; its log-softmax check goes unsaid


# --------------------------------------------------------------------------- no lab in the code

#: Lab 4's own literals: its net's flattened size and parameter count, its file, MNIST's image side
LAB4_LITERAL = re.compile(r"\b(320|21840|28|lab4_cnn)\b")
#: literals that happen to be one of those and are not Lab 4's: (file, line's code)
NOT_LAB4 = {("cnngrade/submission/isolated/nsinit.py", "PR_SET_SECUREBITS"),  # prctl's option 28
            ("cnngrade/submission/isolated/seccomp.py", '"kexec_file_load": 320')}  # a system call's number


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def lab4_literals(text: str, relative: str) -> list[str]:
    """``file:line: token`` for each Lab 4 literal in the code ``text`` of the file ``relative`` (not in its
    comments or docstrings)."""
    documentation = _docstring_lines(ast.parse(text))
    lines = text.splitlines()
    found = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        row = token.start[0]
        if token.type == tokenize.COMMENT or row in documentation or not LAB4_LITERAL.search(token.string):
            continue
        if not any(relative == file and marker in lines[row - 1] for file, marker in NOT_LAB4):
            found.append(f"{relative}:{row}: {token.string[:60]}")
    return found


def test_cnngrade_and_graders_hold_no_lab4_literal():
    """Everything Lab 4 is in graders/lab.toml, reference/ and student_templates/, as another lab's is in labs/."""
    files = sorted([*(ROOT / "cnngrade").rglob("*.py"), *(ROOT / "graders").glob("*.py")])
    assert len(files) > 50
    hits = [hit for path in files
            for hit in lab4_literals(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())]
    assert hits == []


def test_the_literal_scan_finds_a_lab4_literal():
    """The scan above can fail: it finds each kind of literal in code, and none in comments or docstrings."""
    text = '"""Net of 21840 parameters."""\nSIZE = 320  # 28\nPART = "lab4_cnn"\nSIDE = (28, 28)\n'
    hits = lab4_literals(text, "cnngrade/sample.py")
    assert [h.split(": ", 1)[1] for h in hits] == ["320", '"lab4_cnn"', "28", "28"]


# --------------------------------------------------------------------------- [parts] of lab.toml


def test_parts_come_from_lab_toml_and_say_what_is_wrong():
    parts = Parts.from_lab({"parts": {"model": ["Net"], "helpers": ["pool"], "answers": []}, "net": {"class": "Net"}})
    assert (parts.net_part, parts.answers_part, parts.part_of("pool"), parts.part_of("Q1")) == (
        "model", "answers", "helpers", "answers")
    assert parts.functions == {"pool"} and Parts.from_json(parts.as_json()) == parts
    for data, words in [
        ({"net": {"class": "Net"}}, "has no [parts] table"),
        ({"parts": {"model": ["Net"]}}, "no [net] class"),
        ({"parts": {"model": ["CNN"]}, "net": {"class": "Net"}}, "no part of [parts] lists the network class 'Net'"),
        ({"parts": {"model": ["Net", "not a name"]}, "net": {"class": "Net"}}, "must be a list of Python names"),
        ({"parts": {"model": ["Net"], "a": [], "b": []}, "net": {"class": "Net"}}, "more than one part without names"),
    ]:
        with pytest.raises(PartsError, match=re.escape(words)):
            Parts.from_lab(data)


# --------------------------------------------------------------------------- cnngrade new, check-lab


def test_a_new_lab_is_scaffolded_then_checked(tmp_path, capsys, warm):
    """``cnngrade new`` writes a lab whose reference is an empty skeleton; ``check-lab`` names a
    misspelt key with its line and stale templates, then, with a reference written, finds it ready."""
    from cnngrade.commands import check_lab

    lab = tmp_path / "linear"
    made = subprocess.run([sys.executable, "-m", "cnngrade", "new", str(lab), "--part", "linear"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert {p.relative_to(lab).as_posix() for p in lab.rglob("*.py")} == {"reference/linear.py",
                                                                          "student_templates/linear.py"}
    again = subprocess.run([sys.executable, "-m", "cnngrade", "new", str(lab)], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 2 and "is not an empty directory" in again.stderr
    assert check_lab.configuration_problems(lab) == []
    toml = lab / "lab.toml"
    text = toml.read_text()
    toml.write_text(text.replace("[speed]\n", "[speed]\nfps_ratoi = 1\n"))
    line = toml.read_text().splitlines().index("fps_ratoi = 1") + 1
    assert check_lab.configuration_problems(lab) == [f"lab.toml, line {line}: [speed] fps_ratoi is not a lab.toml "
                                                     "setting; did you mean fps_ratio?"]
    # a lab without a dataset: its reference, a linear classifier, is graded without training
    toml.write_text(text.split("[accuracy]")[0] + "[speed]" + text.split("[speed]")[1])
    reference = lab / "reference" / "linear.py"
    source = reference.read_text()
    reference.write_text(source.replace('raise NotImplementedError("the lab\'s reference solution: the layers")',
                                        "self.fc = nn.Linear(784, 10)").replace(
        'raise NotImplementedError("the lab\'s reference solution: the forward pass")',
        "return F.log_softmax(self.fc(torch.flatten(x, 1)), dim=1)"))
    assert check_lab.template_problems(lab, LabConfig.load(lab / "lab.toml")) == []
    template = lab / "student_templates" / "linear.py"
    released = template.read_text()
    template.write_text("# edited by hand\n" + released)
    assert check_lab.template_problems(lab, LabConfig.load(lab / "lab.toml")) == [
        f"student_templates/linear.py differs from what `cnngrade release --lab {lab}` writes"]
    template.write_text(released)
    assert check_lab.grading_problems(lab, ROOT / "graders", runner=warm) == []
    printed = capsys.readouterr().out
    assert "reference: 100/100" in printed and "student_templates: 0/100" in printed  # (no dropout check)


def test_the_default_labs_templates_are_found_beside_graders():
    """``cnngrade check-lab graders``: Lab 4's reference and templates are the project's, beside graders/."""
    from cnngrade.commands import check_lab
    from cnngrade.lab.config import LabConfig

    assert check_lab.template_problems(ROOT / "graders", LabConfig.load(ROOT / "graders" / "lab.toml")) == []
