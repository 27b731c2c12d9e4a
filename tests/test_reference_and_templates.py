"""The graders pass the reference with full points and fail the blank templates."""

from __future__ import annotations

import pytest

NET_CHECKS = {
    "test_net_builds", "test_net_layers", "test_parameter_count", "test_architecture", "test_forward_returns_tensor",
    "test_output_shape", "test_finite_outputs", "test_log_softmax", "test_eval_deterministic",
    "test_batch_independence", "test_dropout_placement", "test_every_parameter_gets_gradient",
}


@pytest.mark.grades("reference")
def test_reference_passes_every_check_with_full_points(corpus):
    result = corpus.grade("reference")
    assert result.failed() == {}
    assert NET_CHECKS <= result.passed()
    assert len(result.passed()) >= 70
    assert result.score == result.max_score > 0
    assert result.exit_code == 0
    assert f"Score: {result.score:g}/{result.max_score:g}" in result.stdout


@pytest.mark.grades("templates")
def test_blank_templates_fail_every_check_as_not_implemented(corpus):
    result = corpus.grade("templates", "student_templates")
    failed = result.failed()
    assert NET_CHECKS <= set(failed)
    assert result.passed() == set()
    for name, message in failed.items():
        assert "not implemented yet" in message, (name, message)
    assert len(failed) >= 60
    assert result.score == 0
    assert result.exit_code == 1


@pytest.mark.grades("templates")
def test_blank_notebook_template_fails_every_net_check_as_not_implemented(corpus):
    failed = corpus.grade("templates", "lab4.ipynb").failed()
    assert NET_CHECKS <= set(failed)
    for name in NET_CHECKS:
        assert "not implemented yet" in failed[name], name


@pytest.mark.grades("buggy_net")
def test_reference_as_a_notebook_passes(corpus):
    result = corpus.grade("buggy_net", "lab4_reference.ipynb")
    assert result.failed() == {}
    assert NET_CHECKS == result.passed()
