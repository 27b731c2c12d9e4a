"""lab.toml cannot lie (issue 21): every setting has a type, a choice its values, and the settings must
agree; a lab with a problem is refused, naming the line and the fix, by ``cnngrade check-lab`` and by
every grading run (``pytest graders/``, ``cnngrade grade``, ``batch``, ``gradescope``) before any
student is graded.

Each bad lab is the MLP lab (labs/mlp-mnist) with one change, written into tmp_path; check-lab's
listing is asked in-process (it grades nothing when lab.toml has problems), the grading commands
run once each, forked from the tests' warm process.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from cnngrade.commands import batch, check_lab, gradescope
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.lab.scaffold import scaffold
from tests.paths import ROOT

MLP = ROOT / "labs" / "mlp-mnist"
BANANA = ('classes = 10\n', 'classes = 10\noutput = "banana"\n')


def lab_with(tmp_path: Path, old: str, new: str) -> Path:
    """The MLP lab (its lab.toml and reference) with ``old`` of lab.toml replaced by ``new``, once."""
    lab = tmp_path / "lab"
    shutil.copytree(MLP, lab, ignore=shutil.ignore_patterns("__pycache__", "student_templates"))
    text = (MLP / "lab.toml").read_text()
    assert text.count(old) == 1, f"labs/mlp-mnist/lab.toml changed: {old!r}"
    (lab / "lab.toml").write_text(text.replace(old, new))
    return lab


def line_of(lab: Path, text: str) -> int:
    """The line of lab.toml that holds ``text``."""
    return next(i for i, line in enumerate((lab / "lab.toml").read_text().splitlines(), 1) if text in line)


def test_every_shipped_lab_and_a_new_one_validate(tmp_path):
    """Every lab the project ships, and what ``cnngrade new`` writes, has no problem."""
    labs = [ROOT / "graders" / "lab.toml", *ROOT.glob("labs/*/lab.toml"), *ROOT.glob("tests/labs/**/lab.toml")]
    scaffold(tmp_path / "new", name="new", part="model", net_class="Net")
    labs.append(tmp_path / "new" / "lab.toml")
    assert len(labs) >= 6
    assert {str(lab): LabConfig.load(lab).problems() for lab in labs} == {str(lab): [] for lab in labs}


#: (what is changed in labs/mlp-mnist/lab.toml, the text on the line the problem names, words of the problem)
RULES = {
    "an unknown output": (*BANANA, 'output = "banana"', 'not a known value; use one of "log_softmax", "logits", '
                          '"softmax", "sigmoid", "logit"'),
    "a binary output of 10 classes": ('classes = 10\n', 'classes = 10\noutput = "sigmoid"\n', 'output = "sigmoid"',
                                      "needs classes = 1, and [net] classes = 10"),
    "1 class without a binary output": ('classes = 10\n', 'classes = 1\n', 'classes = 1',
                                        '1 class is a binary lab, and Net returns log-probabilities',
                                        'set output = "sigmoid" or "logit"'),
    "a loss that does not fit the output": ('seed = 0\nthreads', 'seed = 0\nloss = "bce"\nthreads', 'loss = "bce"',
                                            'does not fit what Net returns: log-probabilities'),
    "a last layer that is not the output's": ('classes = 10\n', 'classes = 10\noutput = "logits"\n',
                                              '{ layer = "log_softmax" }', 'remove it, or set output'),
    "a linear layer that does not take its input": ('in = 784, out = 64', 'in = 748, out = 64', 'in = 748',
                                                    'in = 748, and the layer gets 784 features; set in = 784'),
    "no flatten before a linear layer": ('    { layer = "flatten" },\n', '', 'in = 784, out = 64',
                                         'gets inputs of shape [1, 28, 28]; put { layer = "flatten" } before it'),
    "a last linear layer not of the classes": ('in = 64, out = 10', 'in = 64, out = 12', 'in = 64, out = 12',
                                               'out = 12: Net would return 12 values per input, and [net] classes '
                                               '= 10; set out = 10'),
    "a parameter count the layers do not have": ('expected_parameters = 59210', 'expected_parameters = 59211',
                                                 'expected_parameters', 'the [architecture] layers have 59,210 '
                                                 'parameters; set expected_parameters = 59210'),
    "a budget the layers are outside": ('expected_parameters = 59210', 'parameter_budget = [1000, 5000]',
                                        'parameter_budget', 'have 59,210 parameters, outside it'),
    "reference layers that do not add up": ('fc4 = 650', 'fc4 = 651', 'reference_layers',
                                            'they add up to 59,211, and the [architecture] layers have 59,210'),
    "more layers than the architecture has": ('min_layers = { linear = 4 }', 'min_layers = { linear = 5 }',
                                              'min_layers', 'min_layers.linear = 5: the [architecture] layers have 4'),
    "a mean per channel the input does not have": ('input_mean = [0.1307]', 'input_mean = [0.1307, 0.2]',
                                                   'input_mean', 'input_shape [1, 28, 28] has 1 channel; give 1 value'),
    "a batch size of 0": ('batch_sizes = [1, 7, 64]', 'batch_sizes = [1, 0, 64]', 'batch_sizes',
                          "item 2 (0) is below 1; use a list of at least 1 integers of at least 1"),
    "a threshold above 1": ('min_accuracy = 0.92', 'min_accuracy = 92', 'min_accuracy = 92',
                            'above 1; use a number from 0 to 1'),
    "negative points": ('[points]\n', '[points]\ntest_learns = -1\n', 'test_learns', 'below 0'),
    "a part that is not a list of names": ('mlp = ["Net"]', 'mlp = "Net"', 'mlp = "Net"', 'not a list'),
    "no part with the network class": ('mlp = ["Net"]', 'mlp = ["MLP"]', '[parts]',
                                       "no part of [parts] lists the network class 'Net'"),
    "a dataset without thresholds": ('dataset = "mnist-bundled"', 'dataset = "fashion-mnist"', 'dataset =',
                                     'no [accuracy.fashion-mnist] table'),
    "an unknown dataset": ('dataset = "mnist-bundled"', 'dataset = "imagenet"', 'dataset =',
                           'not a dataset cnngrade knows'),
    "a misspelt key": ('fps_ratio = 0.5', 'fps_ratoi = 0.5', 'fps_ratoi',
                       'fps_ratoi is not a lab.toml setting; did you mean fps_ratio?'),
    "an unknown optimizer": ('optimizer = "adam"\nlr = 0.001\nbatch_size = 64', 'optimizer = "adamw"\nlr = 0.001\n'
                             'batch_size = 64', 'optimizer', 'use one of "adam", "sgd"'),
    "a momentum of the course's recipe above 1": (
        'batch_size = 10\nepochs = 1', 'momentum = 1.5\nbatch_size = 10\nepochs = 1', 'momentum = 1.5', 'not below 1'),
    "an unknown layer option type": ('in = 64, out = 10', 'in = 64, out = 10, bias = 0', 'bias = 0',
                                     'bias = 0 is not true or false'),
    "a missing setting": ('cuda_atol = 1e-4\n', '', '[device]', '[device] cuda_atol is missing; add it'),
}


@pytest.mark.parametrize("rule", RULES)
def test_check_lab_names_each_problem_with_its_line(tmp_path, rule, capsys):
    old, new, on, *words = RULES[rule]
    lab = lab_with(tmp_path, old, new)
    problems = check_lab.configuration_problems(lab)
    line = f"lab.toml, line {line_of(lab, on)}: "
    assert [p for p in problems if p.startswith(line) and all(w in p for w in words)], problems


def test_the_course_recipe_is_a_lab_toml_setting(tmp_path):
    lab = lab_with(tmp_path, 'optimizer = "adam"\nlr = 0.001\nbatch_size = 10\nepochs = 1',
                   'optimizer = "sgd"\nlr = 0.01\nmomentum = 0.5\nbatch_size = 64\nepochs = 1\nmax_samples = 12000')
    assert check_lab.configuration_problems(lab) == []


def test_check_lab_refuses_a_lab_that_lies_without_grading_it(tmp_path, capsys):
    lab = lab_with(tmp_path, *BANANA)
    assert check_lab.main([str(lab)]) == 1
    printed = capsys.readouterr().out
    assert printed.splitlines()[-2:] == [
        f'  - lab.toml, line {line_of(lab, "banana")}: [net] output = "banana": not a known value; use one of '
        '"log_softmax", "logits", "softmax", "sigmoid", "logit" (what Net returns; log_softmax unless set)',
        f"cnngrade check-lab: {lab} is not ready: 1 problem."]
    assert "reference:" not in printed


def test_a_class_run_and_a_gradescope_build_refuse_it(tmp_path, capsys):
    lab = lab_with(tmp_path, *BANANA)
    (tmp_path / "class" / "alice").mkdir(parents=True)
    assert batch.main([str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--lab", str(lab),
                       "--in-process"]) == 2
    assert '[net] output = "banana": not a known value' in capsys.readouterr().err
    assert gradescope.main(["--lab", str(lab), "--out", str(tmp_path / "autograder.zip")]) == 2
    assert '[net] output = "banana": not a known value' in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "autograder.zip").exists()
    with pytest.raises(ConfigError, match=r"cannot grade anyone until it is fixed \(1 problem;"):
        LabConfig.load(lab / "lab.toml").validate()


@pytest.mark.parametrize("command", ["pytest", "cnngrade grade"])
def test_a_grading_run_refuses_it_before_grading_anyone(tmp_path, command, warm):
    """A usage error (exit status 4), no score and no results.json: the instructor's mistake is not the
    student's 0. Refused at pytest's configure, before any check is collected (forked from the warm
    process: a fresh one spends its time on the imports, 3.3 s of CPU here)."""
    lab = lab_with(tmp_path, *BANANA)
    results = tmp_path / "results.json"
    if command == "pytest":
        args = ["pytest", str(ROOT / "graders"), "--lab", str(lab), "--submission", str(lab / "reference"),
                "--results-json", str(results), "-p", "no:cacheprovider"]
    else:
        args = ["cnngrade", "grade", str(lab / "reference"), "--lab", str(lab), "--in-process",
                "--results-json", str(results)]
    done = warm([sys.executable, "-m", *args], cwd=tmp_path, env=None, timeout=300)
    assert done.returncode == 4, done.stdout + done.stderr
    assert f'line {line_of(lab, "banana")}: [net] output = "banana": not a known value' in done.stderr, done.stderr
    assert "Score" not in done.stdout and "collected" not in done.stdout and not results.exists(), done.stdout
