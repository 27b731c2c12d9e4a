"""Points, the score table, results.json and the exit status of a grader run."""

from __future__ import annotations

import json

from cnngrade.grader.scoring import Scoreboard
from tests.paths import ROOT


def test_a_check_fails_if_any_phase_fails_and_skips_count_for_nothing():
    board = Scoreboard()
    board.record("a", "test_a", "A", 5, "passed", "")
    board.record("a", "test_a", "A", 5, "failed", "teardown broke")
    board.record("b", "test_b", "B", 10, "passed", "")
    board.record("c", "test_c", "C", 3, "skipped", "no GPU")
    assert (board.score, board.max_score) == (10, 15)
    assert board.table() == ["    0/5  FAIL  A", "  10/10  PASS  B", "    0/3  SKIP  C (no GPU)", "Score: 10/15"]
    results = board.gradescope()
    assert [t["status"] for t in results["tests"]] == ["failed", "passed"]
    assert results["tests"][0]["output"] == "teardown broke"


def test_points_are_overridden_by_lab_toml(grade, tmp_path):
    config = tmp_path / "lab.toml"
    config.write_text((ROOT / "graders" / "lab.toml").read_text().replace(
        "[points]\n", "[points]\ntest_net_builds = 7\n"))
    result = grade(ROOT / "reference", f"--lab-config={config}")
    assert result.checks["test_net_builds"]["max_score"] == 7
    assert result.checks["test_parameter_count"]["max_score"] == 10


def test_parameter_budget_replaces_the_exact_count(grade, tmp_path):
    config = tmp_path / "lab.toml"
    config.write_text((ROOT / "graders" / "lab.toml").read_text().replace(
        "expected_parameters = 21840", "parameter_budget = [1000, 5000]"))
    result = grade(ROOT / "reference", f"--lab-config={config}")
    assert "Net has 21,840 parameters; the budget is 1,000 to 5,000." in result.failed()["test_parameter_count"]


def test_cli_grade_prints_the_score_and_writes_results(tmp_path, capfd):
    import subprocess
    import sys

    results = tmp_path / "out" / "results.json"
    command = [sys.executable, "-m", "cnngrade", "grade", str(ROOT / "tests" / "buggy" / "softmax"),
               f"--results-json={results}", "--", "-k", "log_softmax or net_builds"]
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "FAIL  Output is log-softmax" in proc.stdout
    data = json.loads(results.read_text())
    assert (data["score"], data["max_score"]) == (5, 15)
    assert "Score: 5/15" in proc.stdout
