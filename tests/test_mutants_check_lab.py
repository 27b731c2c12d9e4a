"""``cnngrade check-lab DIR --mutants``: a shipped lab's checks kill every applicable mutant of its
reference; a lab whose checks cannot see some mistakes (labs/pima-mlp "as it was" before its checks were
complete: the architecture check worth 0 points) has its survivors named, and check-lab exits 1."""

from __future__ import annotations

import shutil

from cnngrade.commands import check_lab
from cnngrade.lab.mutant_run import mutant_problems
from tests.paths import ROOT

MLP = ROOT / "labs" / "mlp-mnist"
PIMA = ROOT / "labs" / "pima-mlp"


def test_the_mlp_labs_checks_kill_every_applicable_mutant(warm):
    lines: list[str] = []
    problems = mutant_problems(MLP, ROOT / "graders", runner=warm, say=lines.append)
    text = "\n".join(lines)
    assert problems == [], text
    assert "10 of 10 mutants killed." in text
    killed = {line.split()[0]: line.split("killed by ")[1] for line in text.splitlines() if "killed by" in line}
    assert killed["no_output"] == killed["wrong_output"] == "test_log_softmax"
    assert killed["tanh_for_relu"] == killed["relu_on_output"] == "test_architecture"
    assert killed["frozen_layer"] == killed["detached_layer"] == "test_every_parameter_gets_gradient"
    assert killed["fixed_batch"].startswith("test_output_shape")
    assert "  dropout_off         not applicable: the reference's Net has no dropout layer" in text
    assert "stage 2" not in text  # nothing survived the cheap checks: no training, no timing


def test_a_lab_that_cannot_see_some_mistakes_names_them_and_is_not_ready(tmp_path, capsys, warm):
    """The binary lab as it was before its checks were complete: the architecture check worth 0 points
    (and speed's, to keep this test cheap). Its output check sees the sigmoid left out, its accuracy check
    the double sigmoid (in stage 2), no check tanh for ReLU."""
    lab = tmp_path / "pima-mlp"
    shutil.copytree(PIMA, lab)
    text = (lab / "lab.toml").read_text(encoding="utf-8")
    (lab / "lab.toml").write_text(
        text.replace("[points]\n", "[points]\ntest_architecture = 0\ntest_inference_speed = 0\n"), encoding="utf-8")
    status = check_lab.main([str(lab), "--mutants", "--only", "sigmoid_on_output,no_output,tanh_for_relu,avg_pool"],
                            runner=warm)
    out = capsys.readouterr().out
    assert status == 1, out
    assert "Mutants of Net" in out and "3 made, 1 not applicable." in out
    assert "sigmoid_on_output  a sigmoid on the last layer's scores: killed by test_learns" in out
    assert "no_output          no sigmoid: the last layer's scores returned: killed by test_sigmoid" in out
    assert "tanh_for_relu      tanh for the first ReLU: SURVIVED" in out
    assert "avg_pool           not applicable: the reference's Net has no max_pool2d layer" in out
    assert "2 of 3 mutants killed." in out
    assert "stage 2: 1 check x 2 mutants and the reference" in out  # test_learns alone; speed is worth 0
    assert ("  - your lab cannot tell tanh_for_relu (tanh for the first ReLU) from the reference: forward, line 32: "
            "`x = torch.relu(self.fc1(x))` -> `x = torch.tanh(self.fc1(x))`") in out
    assert f"cnngrade check-lab: {lab} is not ready: 1 problem." in out
