"""The "learns" check judges what the lab teaches; only the submission's warnings are the submission's; the
architecture message names the first of the lab's layers that Net's differs from.

* Units: :mod:`cnngrade.submission.divergence` on tiny nets, :mod:`cnngrade.submission.warning_origin`,
  :mod:`cnngrade.grader.layer_diff` on Nets described by hand.
* Gradings, in the background: ``learning_recipe`` (Lab 4's ``test_learns`` of a Net returning
  ``torch.log(F.softmax(x))``, whose loss becomes NaN under the harness's recipe; a frozen fc1's is
  ``buggy_model``'s) and
  ``learning_warnings`` (a Lab 4 Net with ``nn.Dropout`` for ``nn.Dropout2d``, whose grading makes the
  grader's own run of ``F.dropout2d`` on 2-D inputs warn).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnngrade.grader.architecture import Architecture, Layer
from cnngrade.grader.invocation import Grade, Runner, run_graders
from cnngrade.grader.layer_diff import first_difference
from cnngrade.submission.divergence import DivergenceWatch, describe
from cnngrade.submission.handle import Divergence, ModuleInfo, NetDescription, ParameterInfo
from cnngrade.submission.training import Recipe, fit
from cnngrade.submission.warning_origin import raised_by_submission, submission_code
from tests.corpus import background
from tests.paths import ROOT, TESTS

# --------------------------------------------------------------------------- divergence


class Scores(nn.Module):
    """A linear layer on 4 features whose scores are ``scale`` times larger, returned as ``log(softmax)``
    (``naive``, which underflows to -inf once the scores are far apart) or ``log_softmax``."""

    def __init__(self, scale: float, naive: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.scale, self.naive = scale, naive

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.fc(x) * self.scale
        return torch.log(F.softmax(scores, dim=1)) if self.naive else F.log_softmax(scores, dim=1)


def watched(net: nn.Module) -> Divergence | None:
    torch.manual_seed(0)
    features, labels = torch.randn(64, 4), torch.randint(0, 3, (64,))
    with DivergenceWatch(net) as watch:
        fit(net, features, labels, Recipe(optimizer="sgd", lr=0.1, batch_size=16, epochs=2, schedule="none",
                                          mean=(0.0,), std=(1.0,)), watch.progress)
    return watch.found


def test_a_log_of_a_softmax_that_underflows_is_named_at_its_first_step():
    found = watched(Scores(1e4, naive=True))
    assert found is not None and found.step == 1 and found.steps == 8 and "-inf" in found.output
    message = describe(found, "log_softmax")
    assert "at step 1 of 8" in message and "Return F.log_softmax(x, dim=1)" in message
    assert "F.log_softmax" not in describe(found, "logits")


def test_the_same_scores_through_log_softmax_train_without_a_divergence():
    assert watched(Scores(1e4, naive=False)) is None
    assert watched(Scores(1.0, naive=True)) is None


def test_a_nan_output_and_a_nan_loss_are_told_apart():
    assert "held NaN at step 3 of 9" in describe(Divergence(3, 9, float("nan"), ("nan",)), "log_softmax")
    assert "The training loss became inf at step 2 of 9, although Net's output was finite" in \
        describe(Divergence(2, 9, float("inf"), ()), "sigmoid")


# --------------------------------------------------------------------------- warnings


def test_only_warnings_raised_in_submission_code_are_marked_as_the_submissions():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with submission_code():
            warnings.warn("the student's", UserWarning, stacklevel=1)
        warnings.warn("cnngrade's", UserWarning, stacklevel=1)
        with pytest.raises(ValueError), submission_code():
            warnings.warn("the student's, then an error", UserWarning, stacklevel=1)
            raise ValueError
    assert [(str(w.message), raised_by_submission(w.message)) for w in caught] == [
        ("the student's", True), ("cnngrade's", False), ("the student's, then an error", True)]
    assert caught[0].filename == __file__


# --------------------------------------------------------------------------- the first layer that differs

LENET5 = Architecture(tuple(Layer.of(kind, **options) for kind, options in (
    ("conv2d", {"in": 1, "out": 6, "kernel": 5, "padding": 2}), ("relu", {}), ("max_pool2d", {"kernel": 2}),
    ("conv2d", {"in": 6, "out": 16, "kernel": 5}), ("relu", {}), ("max_pool2d", {"kernel": 2}), ("flatten", {}),
    ("linear", {"in": 400, "out": 120}), ("relu", {}), ("linear", {"in": 120, "out": 10}), ("log_softmax", {}))))


def described(*layers: tuple[str, tuple[int, ...], str]) -> NetDescription:
    """A Net's description from (name, weight shape, module summary): each with a bias."""
    modules = tuple(ModuleInfo(name, summary.split("(")[0], "other", 0, summary) for name, _, summary in layers
                    if summary)
    parameters = tuple(p for name, shape, _ in layers for p in (ParameterInfo(f"{name}.weight", shape, True),
                                                               ParameterInfo(f"{name}.bias", shape[:1], True)))
    return NetDescription(modules, parameters)


CONV2 = ("conv2", (16, 6, 5, 5), "Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))")
FC2 = ("fc2", (10, 120), "Linear(in_features=120, out_features=10, bias=True)")


def test_a_first_conv_without_its_padding_is_named_not_the_linear_resized_after_it():
    net = described(("conv1", (6, 1, 5, 5), "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"), CONV2,
                    ("fc1", (120, 256), "Linear(in_features=256, out_features=120, bias=True)"), FC2)
    assert first_difference(LENET5, net) == "conv1: the lab's Conv2d(1 -> 6, kernel 5, padding 2); Net's has padding 0."
    padded = ("conv1", (6, 1, 5, 5), "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))")
    assert first_difference(LENET5, described(padded, CONV2, ("fc1", (120, 400), "Linear(...)"), FC2)) is None


def test_without_module_summaries_the_resized_linear_is_named_with_where_to_look():
    net = described(("conv1", (6, 1, 5, 5), ""), ("conv2", (16, 6, 5, 5), ""), ("fc1", (120, 256), ""),
                    ("fc2", (10, 120), ""))
    assert first_difference(LENET5, net) == (
        "fc1: the lab's Linear(400 -> 120); Net's has 256 inputs. The layers before it give 256 values where the "
        "lab's give 400: check their padding, stride and pooling.")


def test_a_missing_and_an_extra_layer_are_named():
    conv1 = ("conv1", (6, 1, 5, 5), "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))")
    assert first_difference(LENET5, described(conv1, CONV2)) == \
        "Net has no layer for the lab's Linear(400 -> 120) (its layer with weights number 3)."
    extra = described(conv1, CONV2, ("fc1", (120, 400), ""), FC2, ("fc3", (10, 10), ""))
    assert first_difference(LENET5, extra) == "fc3: Net has a Linear(10 -> 10) more than the lab's layers."


# --------------------------------------------------------------------------- gradings

@background("learning_recipe", cost=15)
def grade_learns_with_the_labs_recipe(scratch: Path, runner: Runner) -> Grade:
    """``test_learns`` of tests/correct/log_of_softmax (tests/buggy/frozen_layer's is the corpus group
    ``buggy_model``'s)."""
    return run_graders(TESTS / "correct" / "log_of_softmax", ROOT / "graders", "-k", "test_learns", cwd=scratch,
                       files=("test_7_accuracy.py",), runner=runner)


@background("learning_warnings", cost=8)
def grade_a_dropout_for_dropout2d(scratch: Path, runner: Runner) -> Grade:
    submission = scratch / "dropout_for_dropout2d"
    shutil.copytree(ROOT / "reference", submission, ignore=shutil.ignore_patterns("*.pt", "*.ipynb"))
    code = submission / "lab4_cnn.py"
    code.write_text(code.read_text().replace("nn.Dropout2d()", "nn.Dropout()"))
    return run_graders(submission, ROOT / "graders", "-k", "test_dropout_placement", cwd=scratch,
                       files=("test_2_forward.py",), runner=runner)


@pytest.mark.grades("learning_recipe", "buggy_model")
def test_a_net_whose_harness_training_diverges_learns_with_the_labs_recipe(corpus):
    log_of_softmax, frozen = corpus.result("learning_recipe"), corpus.grade("buggy_model", "frozen_layer")
    assert log_of_softmax.failed() == {} and log_of_softmax.score == 15
    said = " ".join(log_of_softmax.checks["test_learns"]["output"].split())
    assert "Net reaches 9.80% accuracy" in said and "Net's output held -inf at step" in said
    assert "Return F.log_softmax(x, dim=1)" in said
    assert "With the lab's own recipe (SGD, lr 0.01, momentum 0.5, batches of 64, 1 epoch of 12,000 images), " \
           "Net reaches 83.48% and the lab's reference 83.48% (72.66% needed)." in said
    failed = " ".join(frozen.failed()["test_learns"].split())
    assert "Net reaches 93.90% accuracy" in failed and "Net reaches 51.42% and the lab's reference 83.48%" in failed


@pytest.mark.grades("learning_warnings")
def test_the_graders_own_warnings_are_not_shown_as_the_students(corpus):
    grade = corpus.result("learning_warnings")
    assert "channel dropout (nn.Dropout2d, p=0.5)" in grade.failed()["test_dropout_placement"]
    assert "dropout2d: Received a 2-D input" not in grade.stdout and "Warning" not in grade.stdout
