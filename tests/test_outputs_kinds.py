"""Each output kind of ``[net] output`` (cnngrade/lab/outputs.py) has its own output check: a tiny lab
per kind (4 tabular features, Linear(4, 6)-ReLU-Linear(6, K) and the kind's output layer), graded on
Nets that return each of the kinds' outputs. Exactly the lab's own passes its output check, and every
other fails it saying what Net returns; the architecture check compares several classes as
log-probabilities (which output function is the output check's business) and a single binary column
as it is (a sigmoid too many or too few is a mistake of the architecture).

The labs and Nets are generated here; each lab is graded once (``outputs_kinds``), on its forward and
architecture checks only (no dataset: the accuracy checks are left out).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cnngrade.grader.invocation import Grade, Runner, run_graders_on_each
from cnngrade.lab.outputs import OUTPUTS
from tests.corpus import background
from tests.paths import ROOT

#: what Net returns, by name, from the last layer's scores ``z``
RETURNS = {
    "log_softmax": "F.log_softmax(z, dim=1)",
    "logits": "z",
    "softmax": "F.softmax(z, dim=1)",
    "log_softmax_dim0": "F.log_softmax(z, dim=0)",
    "softmax_dim0": "F.softmax(z, dim=0)",
    "sigmoid": "torch.sigmoid(z)",
    "logit": "z",
    "logsigmoid": "F.logsigmoid(z)",
}
MULTICLASS = ("log_softmax", "logits", "softmax", "log_softmax_dim0", "softmax_dim0")
BINARY = ("sigmoid", "logit", "logsigmoid")
#: lab's output kind -> {what Net returns: words of its output check's failure (None: it passes)}
OUTPUT_CHECK: dict[str, dict[str, str | None]] = {
    "log_softmax": {"log_softmax": None, "logits": "looks like raw scores (logits)",
                    "softmax": "looks like softmax probabilities", "log_softmax_dim0": "log_softmax over dim 0, across "
                    "the inputs of the batch; it must be over dim 1, across the 3 classes",
                    "softmax_dim0": "looks like raw scores"},
    "logits": {"logits": None, "log_softmax": "is log_softmax over dim 1, across the 3 classes (log-probabilities)",
               "softmax": "is softmax over dim 1", "log_softmax_dim0": "is log_softmax over dim 0",
               "softmax_dim0": "is softmax over dim 0"},
    "softmax": {"softmax": None, "log_softmax": "looks like log-probabilities", "logits": "looks like raw scores",
                "softmax_dim0": "softmax over dim 0, across the inputs of the batch",
                "log_softmax_dim0": "looks like raw scores"},
    "sigmoid": {"sigmoid": None, "logit": "a probability is in [0, 1]", "logsigmoid": "looks like log-probabilities"},
    "logit": {"logit": None, "logsigmoid": None, "sigmoid": "as if it had passed through a sigmoid"},
}
#: binary lab's output kind -> {what Net returns: words of its architecture check's failure (None: it passes)}
BINARY_ARCHITECTURE: dict[str, dict[str, str | None]] = {
    "sigmoid": {"sigmoid": None, "logit": "Net seems to have no sigmoid at the output",
                "logsigmoid": "Net's output differs from the lab's"},
    "logit": {"logit": None, "sigmoid": "Net seems to have a sigmoid on the output scores",
              "logsigmoid": "Net's output differs from the lab's"},
}
CHECKS = ("test_output_shape", "test_architecture", *(f"test_{kind}" for kind in OUTPUTS))


def lab_toml(kind: str) -> str:
    """A lab whose Net is Linear(4, 6)-ReLU-Linear(6, K) with ``kind``'s output layer."""
    output = OUTPUTS[kind]
    classes = 1 if output.binary else 3
    final = f',\n    {{ layer = "{output.final_layer}" }}' if output.final_layer else ""
    return f'''[lab]
name = "output {kind}"

[parts]
net = ["Net"]

[net]
class = "Net"
expected_parameters = {4 * 6 + 6 + 6 * classes + classes}
min_layers = {{ linear = 2 }}
input_shape = [4]
input_mean = [0.0]
input_std = [1.0]
classes = {classes}
output = "{kind}"
batch_sizes = [1, 7, 64]

[architecture]
layers = [
    {{ layer = "linear", in = 4, out = 6 }},
    {{ layer = "relu" }},
    {{ layer = "linear", in = 6, out = {classes} }}{final}
]

[speed]
fps_ratio = 0.5
batch_size = 1000
repeats = 20
warmup = 3

[device]
cuda_atol = 1e-4
'''


def net_source(classes: int, returns: str) -> str:
    return f'''import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.fc2 = nn.Linear(6, {classes})

    def forward(self, x):
        z = self.fc2(torch.relu(self.fc1(x)))
        return {RETURNS[returns]}
'''


@background("outputs_kinds", cost=10)
def grade_each_kind(scratch: Path, runner: Runner) -> dict[str, dict[str, Grade]]:
    """Each kind's lab, graded on a Net returning each output of its family (several classes or binary)."""
    grades = {}
    for kind, output in OUTPUTS.items():
        lab = scratch / kind
        lab.mkdir()
        (lab / "lab.toml").write_text(lab_toml(kind))
        submissions = []
        for returns in BINARY if output.binary else MULTICLASS:
            (lab / returns).mkdir()
            (lab / returns / "net.py").write_text(net_source(1 if output.binary else 3, returns))
            submissions.append(lab / returns)
        grades[kind] = run_graders_on_each(submissions, ROOT / "graders", "--lab", str(lab), "-k", " or ".join(CHECKS),
                                           cwd=lab, files=("test_1_structure.py", "test_2_forward.py"), runner=runner)
    return grades


@pytest.fixture(scope="module")
def kinds(corpus) -> dict[str, dict[str, Grade]]:
    return corpus.result("outputs_kinds")


@pytest.mark.grades("outputs_kinds")
@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_only_the_labs_own_output_passes_its_output_check(kinds, kind):
    check = f"test_{kind}"
    for returns, words in OUTPUT_CHECK[kind].items():
        grade = kinds[kind][returns]
        assert set(grade.checks) & {f"test_{k}" for k in OUTPUTS} == {check}, grade.checks  # the others: left out
        assert "test_output_shape" in grade.passed(), grade.failed()
        if words is None:
            assert check in grade.passed(), (returns, grade.failed())
        else:
            message = " ".join(grade.failed().get(check, "").split())
            assert words in message, (returns, message)


@pytest.mark.grades("outputs_kinds")
@pytest.mark.parametrize("kind", sorted(k for k, output in OUTPUTS.items() if not output.binary))
def test_several_classes_are_compared_as_log_probabilities(kinds, kind):
    """Log-probabilities, logits and probabilities all compute the lab's layers: which one the lab asks
    for is the output check's verdict alone."""
    for returns in ("log_softmax", "logits", "softmax"):
        assert "test_architecture" in kinds[kind][returns].passed(), (kind, returns, kinds[kind][returns].failed())


@pytest.mark.grades("outputs_kinds")
@pytest.mark.parametrize("kind", sorted(BINARY_ARCHITECTURE))
def test_a_binary_output_is_compared_as_it_is(kinds, kind):
    """A single column's log-softmax is 0 whatever Net computes: a binary lab's outputs are compared raw,
    so a missing or extra sigmoid fails the architecture check."""
    for returns, words in BINARY_ARCHITECTURE[kind].items():
        grade = kinds[kind][returns]
        if words is None:
            assert "test_architecture" in grade.passed(), (returns, grade.failed())
        else:
            assert words in " ".join(grade.failed().get("test_architecture", "").split()), (returns, grade.failed())
