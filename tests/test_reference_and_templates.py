"""The graders pass the reference with full points and fail the blank templates."""

from __future__ import annotations

from cnngrade.lab.release import script_to_notebook
from tests.paths import ROOT

NET_CHECKS = {
    "test_net_builds", "test_net_layers", "test_parameter_count", "test_forward_returns_tensor",
    "test_output_shape", "test_finite_outputs", "test_log_softmax", "test_eval_deterministic",
    "test_batch_independence", "test_dropout_active_in_train", "test_relu_on_hidden_layers",
    "test_every_parameter_gets_gradient",
}


def test_reference_passes_every_check_with_full_points(grade):
    result = grade(ROOT / "reference")
    assert result.failed() == {}
    assert NET_CHECKS <= result.passed()
    assert result.score == result.max_score > 0
    assert result.exit_code == 0
    assert f"Score: {result.score:g}/{result.max_score:g}" in result.stdout


def test_blank_templates_fail_every_check_as_not_implemented(grade):
    result = grade(ROOT / "student_templates")
    failed = result.failed()
    assert NET_CHECKS <= set(failed)
    assert result.passed() == set()
    for name, message in failed.items():
        assert "not implemented yet" in message, (name, message)
    assert len(failed) >= 60
    assert result.score == 0
    assert result.exit_code == 1


def test_blank_notebook_template_fails_every_net_check_as_not_implemented(grade):
    result = grade(ROOT / "student_templates" / "lab4.ipynb")
    failed = result.failed()
    assert NET_CHECKS <= set(failed)
    for name in NET_CHECKS:
        assert "not implemented yet" in failed[name], name


def test_reference_as_a_notebook_passes(grade, tmp_path):
    import nbformat

    notebook = tmp_path / "lab4_reference.ipynb"
    nbformat.write(script_to_notebook((ROOT / "reference" / "lab4_cnn.py").read_text()), notebook)
    result = grade(notebook, files=("test_1_structure.py", "test_2_forward.py"))
    assert result.failed() == {}
    assert NET_CHECKS <= result.passed()
