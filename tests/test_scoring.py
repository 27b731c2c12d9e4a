"""Points, the score table, results.json and the exit status of a grader run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnngrade.grader.scoring import Scoreboard
from cnngrade.grader.submissions import Submissions, submission_name
from cnngrade.lab.config import ConfigError, LabConfig
from tests.paths import ROOT


def test_a_check_fails_if_any_phase_fails_and_skips_count_for_nothing():
    board = Scoreboard()
    board.record("a", "test_a", "A", 5, "passed", "")
    board.record("a", "test_a", "A", 5, "failed", "teardown broke")
    board.record("b", "test_b", "B", 10, "passed", "")
    board.record("c", "test_c", "C", 3, "skipped", "no GPU")
    assert (board.score, board.max_score) == (10, 15)
    assert board.table() == ["    0/5  FAIL  A", "  10/10  PASS  B", "      -  SKIP  C (no GPU; not in the score)",
                             "Score: 10/15"]
    results = board.gradescope()
    assert [t["status"] for t in results["tests"]] == ["failed", "passed"]
    assert results["tests"][0]["output"] == "teardown broke"


def test_a_self_reported_verdict_is_tagged_and_its_points_are_told():
    board = Scoreboard()
    board.record("a", "test_a", "A", 5, "passed", "", "the child's word")
    board.record("b", "test_b", "B", 10, "passed", "")
    board.record("c", "test_c", "C", 3, "failed", "wrong", "the child's word too")
    tests = {t["number"]: t for t in board.gradescope()["tests"]}
    assert tests["test_a"]["tags"] == ["self-reported"] and tests["test_c"]["tags"] == ["self-reported"]
    assert tests["test_a"]["extra_data"] == {"self_reported": "the child's word"}
    assert "tags" not in tests["test_b"]
    # only the points it passed with rest on the report
    assert board.self_reported_notes() == ["Self-reported: 5 of these points rest on what the submission says about "
                                           "itself, not on outputs the grader checked: A (the child's word)."]
    assert any(line.startswith("Self-reported: 5") for line in board.report(notes=board.self_reported_notes()))


def test_lab_toml_points_override_the_markers(tmp_path):
    config = tmp_path / "lab.toml"
    config.write_text((ROOT / "graders" / "lab.toml").read_text().replace("[points]\n", "[points]\ntest_x = 7\n"))
    lab = LabConfig.load(config)
    assert lab.points("test_x", 5) == 7 and lab.points("test_y", 5) == 5


def test_lab_config_errors_name_the_file_and_the_key(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        LabConfig.load(tmp_path / "missing.toml")
    broken = tmp_path / "lab.toml"
    broken.write_text("[net\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        LabConfig.load(broken)
    broken.write_text("[net]\n")
    with pytest.raises(ConfigError, match="has no setting `net.classes`"):
        LabConfig.load(broken).setting("net.classes")


def test_submissions_get_unique_names_and_their_own_results_file():
    submissions = Submissions.from_options([ROOT / "reference", "tests/buggy/softmax", ROOT / "reference",
                                            "my work/lab 4.ipynb"], "out/{name}/results.json")
    assert submissions.names == ["reference", "softmax", "reference-2", "lab_4.ipynb"]
    assert submissions.results_path("softmax") == Path("out/softmax/results.json")
    assert submissions.after("softmax") == "reference-2" and submissions.after("lab_4.ipynb") is None
    assert submission_name(ROOT / "reference" / ".") == "reference"
    with pytest.raises(pytest.UsageError, match="must contain {name}"):
        Submissions.from_options(["a", "b"], "results.json")


@pytest.mark.grades("custom_lab")
def test_a_lab_toml_overrides_points_and_replaces_the_count_by_a_budget(corpus):
    result = corpus.grade("custom_lab")
    assert result.checks["test_net_builds"]["max_score"] == 7
    assert result.checks["test_parameter_count"]["max_score"] == 10
    assert "test_parameter_count" in result.passed()  # 21,840 parameters, within the budget
