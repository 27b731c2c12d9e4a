"""Each buggy submission fails exactly the checks its bug breaks, with feedback naming the bug."""

from __future__ import annotations

import pytest

from tests.corpus import BUGGY, MODEL_BUGGY, NOTEBOOKS
from tests.test_reference_and_templates import NET_CHECKS

FORWARD_CHECKS = NET_CHECKS - {"test_net_builds", "test_net_layers", "test_parameter_count"}

#: submission -> {failing check: words its feedback must contain}; every other Net check passes.
EXPECTED: dict[str, dict[str, str]] = {
    "softmax": {"test_log_softmax": "softmax probabilities"},
    "raw_logits": {"test_log_softmax": "raw scores"},
    "log_softmax_dim0": {
        "test_log_softmax": "over dim 0",
        "test_batch_independence": "never over dim=0",
    },
    "seed000_network": {
        "test_net_layers": "at least 1 dropout layer",
        "test_parameter_count": "32,998 parameters",
        **dict.fromkeys(FORWARD_CHECKS - {"test_forward_returns_tensor", "test_relu_on_hidden_layers"},
                        "(64, 60)"),
        "test_output_shape": "shape (1, 60); expected (1, 10)",
    },
    "relu_undefined": dict.fromkeys(FORWARD_CHECKS, "NameError: name 'relu' is not defined"),
    "hardcoded_batch": {
        "test_output_shape": "shape '[64, 320]' is invalid",
        "test_batch_independence": "x.view(64, 320)",
    },
    "dropout_in_eval": {
        "test_eval_deterministic": "training=self.training",
        "test_batch_independence": "training=self.training",
    },
    "wrong_channels": {"test_parameter_count": "conv2            Conv2d            7,530"},
    "missing_relu": {"test_relu_on_hidden_layers": "conv1 before it has no ReLU"},
    "nan_forward": dict.fromkeys(
        ["test_finite_outputs", "test_log_softmax", "test_eval_deterministic", "test_batch_independence",
         "test_dropout_active_in_train"], "contains NaN"),
    "extra_unused_layer": {
        "test_parameter_count": "fc3              Linear",
        "test_every_parameter_gets_gradient": "fc3 is defined in __init__ but never used",
    },
    "three_channel_input": {
        "test_parameter_count": "conv1            Conv2d              760",
        **dict.fromkeys(FORWARD_CHECKS, "to have 3 channels, but got 1"),
    },
    "frozen_layer": {"test_every_parameter_gets_gradient": "fc1.weight, fc1.bias are frozen"},
    "returns_tuple": dict.fromkeys(FORWARD_CHECKS - {"test_relu_on_hidden_layers"}, "a tuple of 2 tensors"),
}

NOTEBOOK_EXPECTED: dict[str, dict[str, str]] = {
    "softmax.ipynb": EXPECTED["softmax"],
    "log_softmax_dim0_v3.ipynb": EXPECTED["log_softmax_dim0"],
    "hardcoded_batch.ipynb": {
        "test_output_shape": "hardcoded_batch.ipynb, cell 3, line 13: `x = x.view(BATCH, 320)`",
        "test_batch_independence": "x.view(BATCH, 320)",
    },
    "trains_and_downloads.ipynb": EXPECTED["missing_relu"],
}


def group_of(name: str) -> str:
    """The corpus group that grades the buggy submission ``name``."""
    return "buggy_model" if name in MODEL_BUGGY else "buggy_net"


def assert_fails_exactly(result, expected: dict[str, str]) -> None:
    failed = result.failed()
    assert set(failed) & NET_CHECKS == set(expected), failed
    for check, words in expected.items():
        assert words in failed[check], f"{check}: {failed[check]!r}"
        assert "Traceback" not in failed[check]
    assert NET_CHECKS - set(expected) <= result.passed()


def test_corpus_covers_every_bug_directory():
    assert {p.name for p in BUGGY.iterdir() if p.is_dir()} == set(EXPECTED)
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == set(NOTEBOOK_EXPECTED)
    assert len(EXPECTED) >= 12


@pytest.mark.grades("buggy_net", "buggy_model")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_buggy_submission_fails_the_right_checks(corpus, name):
    assert_fails_exactly(corpus.grade(group_of(name), name), EXPECTED[name])


@pytest.mark.grades("buggy_net")
@pytest.mark.parametrize("name", sorted(NOTEBOOK_EXPECTED))
def test_buggy_notebook_fails_the_right_checks(corpus, name):
    assert_fails_exactly(corpus.grade("buggy_net", name), NOTEBOOK_EXPECTED[name])


@pytest.mark.grades("buggy_net")
def test_notebooks_are_graded_without_their_training_or_downloads(corpus):
    graded = corpus.graded("buggy_net")
    # (the group wrote lab4_reference.ipynb itself; pytest-benchmark may leave .benchmarks)
    written = sorted(p.name for p in graded.scratch.iterdir() if p.name not in ("lab4_reference.ipynb", ".benchmarks"))
    assert written == [], "grading ran top-level code that wrote files (data/, model.pt, ...)"
    assert graded.grades["trains_and_downloads.ipynb"].checks["test_net_builds"]["status"] == "passed"


@pytest.mark.grades("run_all_code")
def test_running_all_code_does_run_the_top_level_cells(corpus):
    result = corpus.grade("run_all_code")
    assert "Running trains_and_downloads.ipynb failed" in result.failed()["test_net_builds"]
