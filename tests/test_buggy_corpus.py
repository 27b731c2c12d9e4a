"""Each buggy submission fails exactly the checks its bug breaks, with feedback naming the bug."""

from __future__ import annotations

import pytest

from tests.corpus import BUGGY, CORRECT_DIR, MODEL_BUGGY, NOTEBOOKS
from tests.test_reference_and_templates import NET_CHECKS

FORWARD_CHECKS = NET_CHECKS - {"test_net_builds", "test_net_layers", "test_parameter_count", "test_architecture"}
#: submission -> the checks left out of its score (skipped): the dropout check, where the grader cannot
#: reproduce what Net computes in eval mode (the architecture check fails, and costs its points once)
SKIPPED: dict[str, set[str]] = {
    name: {"test_dropout_placement"} for name in ("seed000_network", "wrong_channels", "nan_forward",
                                                  "three_channel_input")
}

#: submission -> {failing check: words its feedback must contain}; every other Net check passes.
EXPECTED: dict[str, dict[str, str]] = {
    "softmax": {"test_log_softmax": "softmax probabilities"},
    "raw_logits": {"test_log_softmax": "raw scores"},
    "log_softmax_dim0": {
        "test_log_softmax": "over dim 0",
        "test_batch_independence": "never over dim=0",
        # a log_softmax over the batch cancels fc2's bias: it gets no gradient (float32 rounding aside)
        "test_every_parameter_gets_gradient": "Parameter fc2.bias gets no gradient (or almost none)",
    },
    "seed000_network": {
        "test_net_layers": "at least 1 dropout layer",
        "test_parameter_count": "32,998 parameters",
        "test_architecture": "conv1: the lab's Conv2d(1 -> 10, kernel 5); Net's has 6 output channels.",
        **dict.fromkeys(FORWARD_CHECKS - {"test_forward_returns_tensor", "test_dropout_placement"}, "(64, 60)"),
        "test_output_shape": "shape (1, 60); expected (1, 10)",
    },
    # (layers and parameters are counted from what the outputs show: a forward that fails fails them too)
    "relu_undefined": dict.fromkeys(FORWARD_CHECKS | {"test_architecture", "test_net_layers", "test_parameter_count"},
                                    "NameError: name 'relu' is not defined"),
    "hardcoded_batch": {
        "test_output_shape": "shape '[64, 320]' is invalid",
        "test_batch_independence": "x.view(64, 320)",
    },
    "dropout_in_eval": {
        "test_eval_deterministic": "training=self.training",
        "test_batch_independence": "training=self.training",
    },
    "wrong_channels": {
        "test_parameter_count": "conv2            Conv2d            7,530",
        "test_architecture": "conv2: the lab's Conv2d(10 -> 20, kernel 5); Net's has 30 output channels.",
    },
    "missing_relu": {"test_architecture": "no ReLU after the Conv2d(1 -> 10, kernel 5)"},
    "nan_forward": {
        "test_architecture": "NaN or infinite values",
        "test_net_layers": "NaN or infinite values", "test_parameter_count": "NaN or infinite values",
        "test_every_parameter_gets_gradient": "NaN or infinite values",
        **dict.fromkeys(["test_finite_outputs", "test_log_softmax", "test_eval_deterministic",
                         "test_batch_independence"], "contains NaN"),
    },
    "extra_unused_layer": {
        "test_parameter_count": "fc3              Linear",
        "test_architecture": "fc3: Net has a Linear(10 -> 10) more than the lab's layers.",
        "test_every_parameter_gets_gradient": "fc3 is defined in __init__ but never used",
    },
    "three_channel_input": {
        "test_parameter_count": "conv1            Conv2d              760",
        "test_architecture": "conv1: the lab's Conv2d(1 -> 10, kernel 5); Net's has 3 input channels.",
        **dict.fromkeys((FORWARD_CHECKS | {"test_net_layers"}) - {"test_dropout_placement"},
                        "to have 3 channels, but got 1"),
    },
    "frozen_layer": {"test_every_parameter_gets_gradient": "fc1.weight, fc1.bias are frozen"},
    "returns_tuple": dict.fromkeys(FORWARD_CHECKS | {"test_architecture", "test_net_layers", "test_parameter_count"},
                                   "a tuple of 2 tensors"),
    # mistakes only the grader's own computation of the lab's Net sees
    "relu_on_logits": {"test_architecture": "Net seems to have a ReLU on the output scores"},
    "average_pooling": {"test_architecture": "average pooling 2x2 after the Conv2d(1 -> 10, kernel 5) where the lab "
                                             "has max pooling 2x2; and average pooling 2x2 after the Conv2d(10 -> 20"},
    "unused_conv_dropout": {"test_dropout_placement": "no channel dropout (nn.Dropout2d, p=0.5) after the "
                                                      "Conv2d(10 -> 20, kernel 5). conv2_drop is defined in __init__ "
                                                      "but never used in forward."},
    "no_fc_dropout": {"test_dropout_placement": "Net seems to have no dropout (p=0.5) after the Linear(320 -> 50)."},
    "dropout_on_logits": {"test_dropout_placement": "the dropout (p=0.5) on the output scores instead of after the "
                                                    "Linear(320 -> 50)"},
}

#: correct Nets written in other ways than the reference: every Net check passes
CORRECT = ("sequential", "relu_before_pooling", "log_of_softmax")

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


def assert_fails_exactly(result, expected: dict[str, str], skipped: set[str] | None = None) -> None:
    failed, skipped = result.failed(), skipped or set()
    assert set(failed) & NET_CHECKS == set(expected), failed
    for check, words in expected.items():
        assert words in failed[check], f"{check}: {failed[check]!r}"
        assert "Traceback" not in failed[check]
    assert not skipped & set(result.checks), "a skipped check is not in results.json"
    assert NET_CHECKS - set(expected) - skipped <= result.passed()


def test_corpus_covers_every_bug_directory():
    assert {p.name for p in BUGGY.iterdir() if p.is_dir()} == set(EXPECTED)
    assert {p.name for p in CORRECT_DIR.iterdir() if p.is_dir()} == set(CORRECT)
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == set(NOTEBOOK_EXPECTED)
    assert len(EXPECTED) >= 12


@pytest.mark.grades("buggy_net", "buggy_model")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_buggy_submission_fails_the_right_checks(corpus, name):
    assert_fails_exactly(corpus.grade(group_of(name), name), EXPECTED[name], SKIPPED.get(name))


@pytest.mark.grades("buggy_net")
@pytest.mark.parametrize("name", CORRECT)
def test_a_correct_net_written_another_way_passes_every_net_check(corpus, name):
    result = corpus.grade("buggy_net", name)
    assert NET_CHECKS == result.passed(), result.failed()


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
