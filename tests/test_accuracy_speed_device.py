"""The accuracy, trained-model, speed and device checks pass the reference and fail their bugs."""

from __future__ import annotations

import re

import pytest
import torch

from tests.corpus import MODEL_ONLY

MODEL_CHECKS = {"test_learns", "test_trained_model", "test_inference_speed", "test_runs_without_cuda",
                "test_to_device_moves_everything"}
#: the device checks that need CUDA: skipped with their reason elsewhere
CUDA_CHECKS = {"test_cpu_and_cuda_agree": 1, "test_data_parallel": 2}


def reached(message: str) -> float:
    """The accuracy a failed accuracy check reports: 91.7 for '... reaches 91.70% accuracy ...'."""
    match = re.search(r"reaches (\d+\.\d\d)% accuracy on the (official MNIST|mnist-bundled) test set; at least "
                      r"(\d+\.\d\d)% is needed\. Weakest classes: \d: \d+%", message)
    assert match, message
    assert float(match.group(1)) < float(match.group(3))
    return float(match.group(1))


@pytest.mark.grades("reference")
def test_reference_passes_accuracy_speed_and_device_checks(corpus):
    result = corpus.grade("reference")
    assert MODEL_CHECKS <= result.passed()
    for check, gpus in CUDA_CHECKS.items():
        expected = "passed" if torch.cuda.device_count() >= gpus else "skipped"
        assert result.checks.get(check, {"status": "skipped"})["status"] == expected, check
    moves = result.checks["test_to_device_moves_everything"]
    assert moves["tags"] == ["self-reported"]
    assert "Self-reported:" not in result.stdout  # in-process the code is trusted: the report does not dwell on it
    assert all("tags" not in info for check, info in result.checks.items() if check != moves["number"])


def model_group(name: str) -> str:
    """The corpus group that grades the buggy submission ``name`` with the model checks."""
    return "model_only" if name in MODEL_ONLY else "buggy_model"


@pytest.mark.grades("buggy_model", "model_only")
@pytest.mark.parametrize(("name", "low", "high"), [("ignores_input", 0, 20), ("softmax", 80, 95.5),
                                                   ("frozen_layer", 85, 95.5)])
def test_a_net_that_cannot_learn_fails_the_accuracy_check(corpus, name, low, high):
    failed = corpus.grade(model_group(name), name).failed()
    assert low <= reached(failed["test_learns"]) < high
    assert "mnist-bundled test set; at least 95.50%" in failed["test_learns"]


@pytest.mark.grades("buggy_model", "model_only")
@pytest.mark.parametrize(("name", "check", "words"), [
    ("hardcoded_cuda", "test_runs_without_cuda", "Net uses CUDA although it is unavailable"),
])
def test_buggy_submission_fails_the_check(corpus, name, check, words):
    assert words in corpus.grade(model_group(name), name).failed().get(check, ""), name


@pytest.mark.grades("model_only")
def test_a_net_the_grader_cannot_reproduce_keeps_its_speed_points(corpus):
    """ignores_input computes the lab's layers on zeros, as fast as the reference: its mistake costs the
    architecture's and the accuracy's points, and its speed is timed on its own outputs."""
    grade = corpus.grade("model_only", "ignores_input")
    assert "test_inference_speed" in grade.passed(), grade.failed().get("test_inference_speed")
    assert "test_learns" in grade.failed()


@pytest.mark.grades("buggy_device")
def test_a_tensor_that_to_leaves_behind_fails_the_device_check(corpus):
    result = corpus.grade("buggy_device")
    assert set(result.failed()) == {"test_to_device_moves_everything"}
    message = result.failed()["test_to_device_moves_everything"]
    assert "Tensor on device cpu is not on the expected device meta!" in message
    assert "must be nn.Parameter or buffers (self.register_buffer)" in message
    assert "test_runs_without_cuda" in result.passed()


@pytest.mark.grades("buggy_model")
def test_model_checks_pass_where_the_bug_is_elsewhere(corpus):
    """softmax and frozen_layer run fast on any device and move with .to()."""
    for name in ("softmax", "frozen_layer"):
        assert {"test_inference_speed", "test_runs_without_cuda", "test_to_device_moves_everything"} <= \
            corpus.grade("buggy_model", name).passed(), name


@pytest.mark.grades("slow_loop")
def test_slow_net_fails_speed_and_its_training_is_stopped(corpus):
    failed = corpus.grade("slow_loop").failed()
    assert "At least 0.5 is needed: look for Python loops" in failed["test_inference_speed"]
    assert "used more than 2 s of CPU time and was stopped" in failed["test_learns"]


@pytest.mark.grades("model_files")
def test_model_with_wrong_keys_lists_the_mismatches(corpus):
    message = corpus.grade("model_files", "wrong_keys").failed()["test_trained_model"]
    assert "missing fc2.weight" in message and "unexpected fc3.weight" in message
    assert "fc1.bias has shape (7,), Net's has (50,)" in message


@pytest.mark.grades("model_files")
def test_model_with_random_weights_is_not_accurate(corpus):
    message = corpus.grade("model_files", "random_weights").failed()["test_trained_model"]
    assert "Your model.pt reaches" in message
    assert reached(message) < 20
    assert "at least 97.00% is needed" in message


@pytest.mark.grades("model_files")
def test_model_pickle_that_would_run_code_is_refused_unrun(corpus):
    graded = corpus.graded("model_files")
    assert "model.pt cannot be loaded as a state_dict" in graded.grades["pickle_payload"].failed()["test_trained_model"]
    assert not (graded.scratch / "payload-ran").exists()


@pytest.mark.grades("model_files")
def test_model_that_is_a_whole_module_is_refused(corpus):
    failed = corpus.grade("model_files", "whole_module").failed()
    assert "model.pt cannot be loaded as a state_dict" in failed["test_trained_model"]


@pytest.mark.grades("model_files")
def test_model_that_is_a_list_is_not_a_state_dict(corpus):
    failed = corpus.grade("model_files", "a_list").failed()
    assert "model.pt holds a list, not a state_dict" in failed["test_trained_model"]


@pytest.mark.grades("model_files")
def test_model_whose_net_output_has_an_extra_dimension_fails_with_the_shapes(corpus):
    """A Net whose output is (N, 10, 1) gives (N, 1) predictions: feedback with both shapes, no traceback."""
    message = corpus.grade("model_files", "extra_dimension").failed()["test_trained_model"]
    assert "The predictions of your model.pt have the wrong shape: (10000, 1) for 10000 test images instead of " \
           "one label per image, (10000,)." in message
    assert "Net's output for a batch of 2 images has shape (2, 10, 1); it should be (2, 10), one row of 10 class " \
           "scores per image" in message
    assert "Traceback" not in message and "ValueError" not in message

