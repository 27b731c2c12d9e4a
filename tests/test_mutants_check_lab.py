"""``cnngrade check-lab DIR --mutants``: a shipped lab's checks kill every applicable mutant of its
reference; a lab whose checks cannot see some mistakes (labs/mlp-mnist "as it was" before its checks were
complete: the architecture and speed checks worth 0 points, no dataset) has its survivors named, and
check-lab exits 1."""

from __future__ import annotations

import shutil

from cnngrade.commands import check_lab
from cnngrade.lab.mutant_run import mutant_problems
from tests.paths import ROOT

MLP = ROOT / "labs" / "mlp-mnist"


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


def test_a_lab_that_cannot_see_some_mistakes_names_them_and_is_not_ready(tmp_path, capsys):
    text = (MLP / "lab.toml").read_text(encoding="utf-8")
    text = text[: text.index("[accuracy]")] + text[text.index("[speed]"):]  # no dataset: no accuracy checks
    (tmp_path / "lab.toml").write_text(
        text.replace("[points]\n", "[points]\ntest_architecture = 0\ntest_inference_speed = 0\n"), encoding="utf-8")
    shutil.copytree(MLP / "reference", tmp_path / "reference")
    status = check_lab.main([str(tmp_path), "--mutants", "--only", "relu_on_output,no_output,tanh_for_relu,avg_pool"])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "Mutants of Net" in out and "3 made, 1 not applicable." in out
    assert "relu_on_output  a ReLU on the last layer's scores: SURVIVED" in out
    assert "no_output       no log_softmax: the last layer's scores returned: killed by test_log_softmax" in out
    assert "1 of 3 mutants killed." in out
    assert ("  - your lab cannot tell tanh_for_relu (tanh for the first ReLU) from the reference: forward, line 35: "
            "`x = F.relu(self.fc1(x))` -> `x = torch.tanh(self.fc1(x))`") in out
    assert "stage 2: no check of test_7_accuracy.py, test_8_speed.py applies" in out
    assert f"cnngrade check-lab: {tmp_path} is not ready: 2 problems." in out
