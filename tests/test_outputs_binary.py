"""A binary lab on tabular features (tests/labs/outputs/binary-mlp: the seeds' MLP, Linear(8, 12)-ReLU-
Linear(12, 8)-ReLU-Linear(8, 1)-Sigmoid, trained with BCE, ``input_shape = [8]``, ``classes = 1``):
graded on random features, its reference gets full marks and each buggy Net loses exactly the checks of
its mistake; the harness trains and predicts on float features with the lab's loss.

The lab's submissions are graded once (``outputs_binary``), on the Net checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnngrade.grader.accuracy import evaluate
from cnngrade.grader.inputs import Inputs
from cnngrade.grader.invocation import Grade, Runner, run_graders_on_each
from cnngrade.lab.config import LabConfig
from cnngrade.submission.inprocess import InProcessSubmission
from tests.corpus import NET_GRADERS, background
from tests.paths import ROOT, TESTS

LAB = TESTS / "labs" / "outputs" / "binary-mlp"
#: the Net checks of a lab without dropout, with a sigmoid output
CHECKS = {"test_net_builds", "test_net_layers", "test_parameter_count", "test_architecture",
          "test_forward_returns_tensor", "test_output_shape", "test_finite_outputs", "test_sigmoid",
          "test_eval_deterministic", "test_batch_independence", "test_every_parameter_gets_gradient"}
#: buggy Net -> {the check it fails: words of its message}; it passes every other check
BUGGY = {
    "no_sigmoid": {
        "test_architecture": "it agrees with the lab up to the Linear(8 -> 1); then the lab has sigmoid, and Net "
                             "seems to have no sigmoid at the output.",
        "test_sigmoid": "a probability is in [0, 1]. Return torch.sigmoid of the last layer's output",
    },
    "tanh_relu": {
        "test_architecture": "it agrees with the lab up to the Linear(12 -> 8); then the lab has ReLU, and Net seems "
                             "to have a tanh after the Linear(12 -> 8) where the lab has a ReLU.",
    },
}


@background("outputs_binary", cost=6)
def grade_the_binary_lab(scratch: Path, runner: Runner) -> dict[str, Grade]:
    submissions = [LAB / "reference", LAB / "student_templates", *sorted((LAB / "buggy").iterdir()),
                   *sorted((LAB / "correct").iterdir())]
    return run_graders_on_each(submissions, ROOT / "graders", "--lab", str(LAB), cwd=scratch, files=NET_GRADERS,
                               runner=runner)


@pytest.fixture(scope="module")
def graded(corpus) -> dict[str, Grade]:
    return corpus.result("outputs_binary")


def test_every_buggy_net_is_graded():
    assert {p.name for p in (LAB / "buggy").iterdir()} == set(BUGGY)


@pytest.mark.grades("outputs_binary")
def test_the_reference_and_a_flat_output_get_full_marks_and_the_template_none(graded):
    for name in ("reference", "flat_output"):  # (N, 1) and (N,): one probability per input
        grade = graded[name]
        assert grade.failed() == {} and set(grade.checks) == CHECKS and grade.score == grade.max_score == 85
    titles = {check: info["name"] for check, info in graded["reference"].checks.items()}
    assert titles["test_batch_independence"] == ("In eval mode each input's output does not depend on the other "
                                                 "inputs in its batch")
    assert titles["test_output_shape"] == "Output has shape (N, 1) for batches of 1, 7 and 64 inputs"
    template = graded["student_templates"]
    assert template.score == 0 and set(template.failed()) == CHECKS
    output = " ".join(graded["reference"].stdout.split())
    assert "left out: 1 check of its dropout or dropout2d (no such layer in [architecture] of lab.toml)" in output
    assert output.count("Not in this lab") == 1  # the output checks of other kinds go unsaid


@pytest.mark.grades("outputs_binary")
@pytest.mark.parametrize("name", sorted(BUGGY))
def test_a_buggy_binary_net_loses_exactly_the_checks_of_its_mistake(graded, name):
    grade = graded[name]
    failed = {check: " ".join(message.split()) for check, message in grade.failed().items()}
    assert set(failed) == set(BUGGY[name]), failed
    for check, words in BUGGY[name].items():
        assert words in failed[check], failed[check]
    assert grade.passed() == CHECKS - set(BUGGY[name])


def test_the_harness_trains_a_binary_net_on_float_features_with_the_labs_loss():
    """The reference, trained with ``[train]`` (loss "bce") on features normalised with the lab's
    means and standard deviations, separates two classes of a generated problem; its predictions are
    0 / 1, and a recipe whose loss does not fit the output is refused."""
    lab = LabConfig.load(LAB / "lab.toml")
    inputs = Inputs.from_lab(lab)
    mean, std = torch.tensor(inputs.mean), torch.tensor(inputs.std)
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(1200, 8, generator=generator)
    labels = (z[:, 1] + z[:, 5] > 0).long()  # the class follows two of the (normalised) features
    features = (z * std + mean).to(torch.float32)  # as a tabular dataset holds them: float32 (N, F)
    recipe = {**lab.setting("train"), "mean": list(inputs.mean), "std": list(inputs.std), "output": "sigmoid"}
    handle = InProcessSubmission(LAB / "reference", parts=lab.parts)
    predictions = handle.train_and_predict(features[:1000], labels[:1000], recipe, features[1000:]).predictions
    assert predictions.dtype == torch.int64 and set(predictions.tolist()) == {0, 1}
    evaluation = evaluate(predictions, labels[1000:], lab.setting("net.classes"))
    assert evaluation.accuracy > 0.9 and evaluation.confusion.shape == (2, 2)
    with pytest.raises(ValueError, match="loss 'nll' does not fit output 'sigmoid'"):
        handle.train_and_predict(features, labels, {**recipe, "loss": "nll"}, features)
