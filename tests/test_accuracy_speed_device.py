"""The accuracy, trained-model, speed and device checks pass the reference and fail their bugs."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import torch

from tests.paths import ROOT, TESTS

BUGGY = TESTS / "buggy"
BUGGY_MODEL = TESTS / "buggy_model"
TRAINED_ONLY = ("-k", "trained_model")
MODEL_GRADERS = ("test_6_device.py", "test_7_accuracy.py", "test_8_speed.py")


def with_model(tmp_path: Path, state: object) -> Path:
    """A copy of the reference's lab4_cnn.py with ``state`` saved as its model.pt."""
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(ROOT / "reference" / "lab4_cnn.py", submission)
    torch.save(state, submission / "model.pt")
    return submission


def test_reference_passes_accuracy_speed_and_device_checks(grade):
    result = grade(ROOT / "reference")
    assert {"test_learns", "test_trained_model", "test_inference_speed", "test_runs_without_cuda",
            "test_to_device_moves_everything", "test_data_parallel"} <= result.passed()
    expected = "skipped" if not torch.cuda.is_available() else "passed"
    assert result.checks.get("test_cpu_and_cuda_agree", {"status": "skipped"})["status"] == expected


@pytest.mark.parametrize(
    ("name", "check", "words"),
    [
        ("ignores_input", "test_learns", "reaches 10.32% accuracy on the mnist-bundled test set; at least 95.50%"),
        ("softmax", "test_learns", "reaches 92.31% accuracy"),
        ("frozen_layer", "test_learns", "reaches 94.01% accuracy"),
        ("ignores_input", "test_inference_speed", "the same output for two different batches"),
        ("hardcoded_cuda", "test_runs_without_cuda", "Net uses CUDA although it is unavailable"),
    ],
)
def test_buggy_submission_fails_the_check(grade, name, check, words):
    failed = grade((BUGGY_MODEL if (BUGGY_MODEL / name).is_dir() else BUGGY) / name, files=MODEL_GRADERS).failed()
    assert words in failed.get(check, ""), failed.get(check)


def test_slow_net_fails_speed_and_its_training_is_stopped(grade, tmp_path):
    config = tmp_path / "lab.toml"
    config.write_text((ROOT / "graders" / "lab.toml").read_text().replace("max_seconds = 120", "max_seconds = 5"))
    failed = grade(BUGGY_MODEL / "slow_loop", f"--lab-config={config}", files=MODEL_GRADERS).failed()
    assert "At least 0.5 is needed: look for Python loops" in failed["test_inference_speed"]
    assert "was stopped after 5 s" in failed["test_learns"]



def test_model_with_wrong_keys_lists_the_mismatches(grade, tmp_path):
    state = torch.load(ROOT / "reference" / "model.pt", weights_only=True)
    state["fc3.weight"] = state.pop("fc2.weight")
    state["fc1.bias"] = torch.zeros(7)
    failed = grade(with_model(tmp_path, state), *TRAINED_ONLY, files=("test_7_accuracy.py",)).failed()
    message = failed["test_trained_model"]
    assert "missing fc2.weight" in message and "unexpected fc3.weight" in message
    assert "fc1.bias has shape (7,), Net's has (50,)" in message


def test_model_with_random_weights_is_not_accurate(grade, tmp_path):
    from cnngrade.submission.inprocess import InProcessSubmission

    handle = InProcessSubmission(ROOT / "reference")
    handle.build_net(seed=123)
    failed = grade(with_model(tmp_path, handle.net.state_dict()), *TRAINED_ONLY, files=("test_7_accuracy.py",)).failed()
    assert "Your model.pt reaches" in failed["test_trained_model"]
    assert "at least 97.00% is needed" in failed["test_trained_model"]


class Payload:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "the pickle ran code"))


def test_model_pickle_that_would_run_code_is_refused_unrun(grade, tmp_path):
    marker = tmp_path / "payload-ran"
    submission = with_model(tmp_path, {})
    with open(submission / "model.pt", "wb") as f:
        pickle.dump({"conv1.weight": Payload(marker)}, f)
    failed = grade(submission, *TRAINED_ONLY, files=("test_7_accuracy.py",)).failed()
    assert "model.pt cannot be loaded as a state_dict" in failed["test_trained_model"]
    assert not marker.exists()


def test_model_that_is_a_whole_module_is_refused(grade, tmp_path):
    submission = with_model(tmp_path, torch.nn.Linear(2, 2))
    failed = grade(submission, *TRAINED_ONLY, files=("test_7_accuracy.py",)).failed()
    assert "model.pt cannot be loaded as a state_dict" in failed["test_trained_model"]


def test_model_that_is_a_list_is_not_a_state_dict(grade, tmp_path):
    failed = grade(with_model(tmp_path, [torch.zeros(1)]), *TRAINED_ONLY, files=("test_7_accuracy.py",)).failed()
    assert "model.pt holds a list, not a state_dict" in failed["test_trained_model"]
