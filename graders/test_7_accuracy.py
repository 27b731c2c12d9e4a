"""Accuracy: the architecture learns under the harness's recipe; a submitted model.pt is trained.

Both need the lab's dataset (``[accuracy] dataset`` of lab.toml); a lab without one skips them."""

from __future__ import annotations

import pickle
import zipfile

import pytest
import torch

from cnngrade.grader.accuracy import evaluate
from cnngrade.grader.feedback import data, expect, fail, measured
from cnngrade.grader.inputs import Inputs
from cnngrade.submission.errors import SubmissionError
from cnngrade.submission.handle import Submission


def accuracy_message(what: str, evaluation, threshold: float, dataset: str) -> str:
    worst = ", ".join(f"{c}: {a:.0%}" for c, a in evaluation.worst_classes())
    return (f"{what} reaches {evaluation.accuracy:.2%} accuracy on the {dataset} test set; at least "
            f"{threshold:.2%} is needed. Weakest classes: {worst}.")


def recipe(lab) -> dict:
    """The harness's recipe (:class:`cnngrade.submission.training.Recipe`): ``[train]``, the lab's input
    normalisation and what its net returns (the loss follows from it)."""
    inputs = Inputs.from_lab(lab)
    return {**lab.get("train", {}), "mean": list(inputs.mean), "std": list(inputs.std),
            "output": lab.get("net.output", "log_softmax")}


def thresholds(lab, request) -> tuple[str, dict]:
    name = request.config.getoption("--dataset") or lab.setting("accuracy.dataset")
    return name, lab.setting(f"accuracy.{name}")


pytestmark = pytest.mark.dataset


@pytest.mark.points(15)
def test_learns(submission, lab, dataset, request):
    """Net learns: trained with the harness's recipe it reaches the lab's minimum test accuracy"""
    train, test = dataset
    name, limits = thresholds(lab, request)
    settings = recipe(lab)
    predictions = submission.train_and_predict(train.images, train.labels, settings, test.images)
    expect(predictions.shape == test.labels.shape,
           f"Net gave {tuple(predictions.shape)} predictions for {len(test)} test images.")
    evaluation = evaluate(predictions, test.labels, len(test.classes))
    data(request, accuracy=evaluation.accuracy, confusion=evaluation.confusion.tolist(), classes=list(test.classes))
    measured(request, f"Trained with the harness's recipe, Net reaches {evaluation.accuracy:.2%} accuracy on the "
                      f"{name} test set ({limits['min_accuracy']:.2%} needed).")
    expect(evaluation.accuracy >= limits["min_accuracy"],
           accuracy_message(f"Trained with the harness's recipe ({settings['epochs']} epochs of {len(train):,} "
                            "images), Net", evaluation, limits["min_accuracy"], name)
           + (" Check the output (log_softmax for nll_loss)" if settings["output"] == "log_softmax" else
              " Check the output (raw class scores for cross_entropy)") + " and that every layer can learn.")


@pytest.mark.points(10)
def test_trained_model(submission, lab, images, request):
    """A submitted model.pt loads into Net and reaches the lab's trained accuracy"""
    path = submission.path / "model.pt"
    if not path.is_file():
        pytest.skip("no model.pt in the submission")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        fail(f"model.pt cannot be loaded as a state_dict ({str(exc).splitlines()[0]}). Save it with "
             "torch.save(model.state_dict(), 'model.pt').")
    if not isinstance(state, dict):
        fail(f"model.pt holds a {type(state).__name__}, not a state_dict. Save it with "
             "torch.save(model.state_dict(), 'model.pt').")
    test = request.getfixturevalue("dataset")[1]
    name, limits = thresholds(lab, request)
    predictions = submission.predict_with_state(state, test.images, recipe(lab))
    expect_one_label_per_image(submission, predictions, len(test.labels), images(2), lab.setting("net.classes"))
    evaluation = evaluate(predictions, test.labels, len(test.classes))
    threshold = limits["min_trained_accuracy"]
    measured(request, f"model.pt reaches {evaluation.accuracy:.2%} accuracy on the {name} test set "
                      f"({threshold:.2%} needed).")
    expect(evaluation.accuracy >= threshold, accuracy_message("Your model.pt", evaluation, threshold, name))


def expect_one_label_per_image(submission: Submission, predictions: torch.Tensor, count: int, sample: torch.Tensor,
                               classes: int) -> None:
    """Fail unless ``predictions`` hold one label per test image (shape ``(count,)``), saying why: the
    shape of Net's output for ``sample`` (a small batch) against ``(N, classes)``."""
    if tuple(predictions.shape) == (count,):
        return
    message = (f"The predictions of your model.pt have the wrong shape: {tuple(predictions.shape)} for {count} "
               f"test images instead of one label per image, ({count},).")
    try:
        submission.build_net()
        output = tuple(submission.forward(sample).shape)
    except SubmissionError:
        fail(message)
    n = len(sample)
    fail(f"{message} Net's output for a batch of {n} images has shape {output}; it should be {(n, classes)}, one "
         f"row of {classes} class scores per image, so that its argmax over dim 1 is one label per image.")
