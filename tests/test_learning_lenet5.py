"""A LeNet-5 lab written from ``cnngrade new`` alone, as an instructor would (docs/labs.md): 28x28 MNIST
images, conv 1->6 k5 padding 2, conv 6->16 k5, fc 400->120->84->10, ReLU, max pooling, log_softmax, no
dropout. Its reference gets full marks and each of 5 common mistakes loses exactly the checks of its
mistake: nothing on dropout (the lab has none) or on speed.

Graded once, in the background (``learning_lenet5``): the reference and the 5 buggy Nets in one run of
every grader.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnngrade.grader.invocation import Grade, Runner, run_graders_on_each
from tests.corpus import background
from tests.paths import ROOT

#: the solution regions of the reference's LeNet5, as the instructor writes them
INIT = """\
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
"""
FORWARD = """\
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)
"""
#: lab.toml as cnngrade new writes it -> as the instructor sets it for LeNet-5
SETTINGS = {
    "expected_parameters = 7850": "expected_parameters = 61706",
    "reference_layers = { fc = 7850 }": "reference_layers = { conv1 = 156, conv2 = 2416, fc1 = 48120, fc2 = 10164, "
                                        "fc3 = 850 }",
    "min_layers = { linear = 1 }": "min_layers = { conv2d = 2, linear = 3 }",
    """    { layer = "flatten" },
    { layer = "linear", in = 784, out = 10 },
""": """    { layer = "conv2d", in = 1, out = 6, kernel = 5, padding = 2 },
    { layer = "relu" },
    { layer = "max_pool2d", kernel = 2 },
    { layer = "conv2d", in = 6, out = 16, kernel = 5 },
    { layer = "relu" },
    { layer = "max_pool2d", kernel = 2 },
    { layer = "flatten" },
    { layer = "linear", in = 400, out = 120 },
    { layer = "relu" },
    { layer = "linear", in = 120, out = 84 },
    { layer = "relu" },
    { layer = "linear", in = 84, out = 10 },
""",
}
#: buggy LeNet5 -> its changes to the reference's code
BUGS = {
    # the first conv without padding, fc1 resized to fit: 16 x 4 x 4 = 256 features
    "padding_0": {"kernel_size=5, padding=2)": "kernel_size=5)", "nn.Linear(400, 120)": "nn.Linear(256, 120)"},
    "hardcoded_batch": {"x.view(x.size(0), -1)": "x.view(64, 400)"},
    "no_relu_after_fc2": {"x = F.relu(self.fc2(x))": "x = self.fc2(x)"},
    "average_pooling": {"x = F.max_pool2d(F.relu(self.conv2(x)), 2)": "x = F.avg_pool2d(F.relu(self.conv2(x)), 2)"},
    "softmax_output": {"F.log_softmax(self.fc3(x), dim=1)": "F.softmax(self.fc3(x), dim=1)"},
}
#: buggy LeNet5 -> {a check it fails: words of its message}; it passes every other check
EXPECTED = {
    "padding_0": {
        "test_parameter_count": "LeNet5 has 44,426 parameters; the lab's LeNet5 has 61,706.",
        "test_architecture": "conv1: the lab's Conv2d(1 -> 6, kernel 5, padding 2); LeNet5's has padding 0.",
    },
    "hardcoded_batch": {
        "test_output_shape": "x.view(64, 400)",
        "test_batch_independence": "x.view(64, 400)",
        "test_learns": "x.view(64, 400)",
    },
    "no_relu_after_fc2": {"test_architecture": "ReLU"},
    "average_pooling": {"test_architecture": "average pooling 2x2"},
    # softmax fed to nll_loss learns poorly: 57.81% after the harness's epoch, 85% needed
    "softmax_output": {"test_log_softmax": "softmax",
                       "test_learns": "Check that LeNet5 returns log-probabilities, as the nll loss expects"},
}


def write_lab(directory: Path) -> Path:
    """The LeNet-5 lab, from ``cnngrade new`` and the instructor's edits; its ``cnngrade release``."""
    cnngrade = [sys.executable, "-m", "cnngrade"]
    subprocess.run([*cnngrade, "new", str(directory), "--name", "LeNet-5 on MNIST", "--part", "lenet5",
                    "--net-class", "LeNet5"], check=True, capture_output=True)
    toml = directory / "lab.toml"
    text = toml.read_text()
    for old, new in SETTINGS.items():
        assert old in text, old
        text = text.replace(old, new)
    toml.write_text(text)
    reference = directory / "reference" / "lenet5.py"
    regions = iter([INIT, FORWARD])
    reference.write_text(re.sub(r"(### BEGIN SOLUTION\n).*?(\s*### END SOLUTION)",
                                lambda m: m.group(1) + next(regions).rstrip("\n") + m.group(2),
                                reference.read_text(), flags=re.DOTALL))
    subprocess.run([*cnngrade, "release", "--lab", str(directory)], check=True, capture_output=True)
    return directory


def buggy(lab: Path, scratch: Path, name: str) -> Path:
    """The reference's LeNet5 with the changes of bug ``name``."""
    code = (lab / "reference" / "lenet5.py").read_text()
    for old, new in BUGS[name].items():
        assert old in code, old
        code = code.replace(old, new)
    directory = scratch / name
    directory.mkdir()
    (directory / "lenet5.py").write_text(code)
    return directory


@background("learning_lenet5", cost=40)
def grade_the_lenet5_lab(scratch: Path, runner: Runner) -> dict[str, Grade]:
    lab = write_lab(scratch / "lenet5")
    submissions = [lab / "reference", *(buggy(lab, scratch, name) for name in BUGS)]
    return run_graders_on_each(submissions, ROOT / "graders", "--lab", str(lab), cwd=scratch, runner=runner)


@pytest.fixture(scope="module")
def graded(corpus) -> dict[str, Grade]:
    return corpus.result("learning_lenet5")


@pytest.mark.grades("learning_lenet5")
def test_the_lenet5_lab_grades_its_reference_full_marks_with_only_the_checks_it_has(graded):
    reference = graded["reference"]
    assert reference.failed() == {} and reference.score == reference.max_score
    assert {"test_architecture", "test_learns", "test_inference_speed", "test_net_layers"} <= reference.passed()
    assert not any("dropout" in check for check in reference.checks)
    titles = {check: entry.get("name", "") for check, entry in reference.checks.items()}
    assert "(conv, fully connected)" in titles["test_net_layers"], titles["test_net_layers"]
    output = " ".join(reference.stdout.split())
    assert "left out: 1 check of its dropout or dropout2d" in output
    assert "1 epochs" not in output


@pytest.mark.grades("learning_lenet5")
@pytest.mark.parametrize("name", sorted(BUGS))
def test_a_buggy_lenet5_loses_exactly_the_checks_of_its_mistake(graded, name):
    grade = graded[name]
    failed = {check: " ".join(message.split()) for check, message in grade.failed().items()}
    assert set(failed) == set(EXPECTED[name]), failed
    for check, words in EXPECTED[name].items():
        assert words in failed[check], failed[check]
    assert grade.passed() == set(graded["reference"].passed()) - set(EXPECTED[name])
