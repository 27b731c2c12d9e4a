"""``cnngrade gradescope``: the autograder zip, and its ``run_autograder`` run in a folder laid out as
Gradescope's ``/autograder`` (its root configurable for tests), on the MLP lab (cheap to grade whole).
Every results.json it writes validates against Gradescope's documented format
(tests/gradescope_results.schema.json). The zip is built, and run on two submissions, by the job
``gradescope``, beside the corpus's gradings (tests/corpus.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from cnngrade.grader.invocation import Runner
from tests.corpus import background
from tests.paths import ROOT, TESTS
from tests.sandboxes import sandbox_or_skip

SCHEMA = json.loads((TESTS / "gradescope_results.schema.json").read_text())
MLP = ROOT / "labs" / "mlp-mnist"


def build_autograder(root: Path) -> Path:
    """The MLP lab's autograder.zip, with [visibility] for two of its checks, in ``root``."""
    lab = root / "lab"
    shutil.copytree(MLP, lab, ignore=shutil.ignore_patterns("__pycache__"))
    with open(lab / "lab.toml", "a") as toml:
        toml.write('\n[visibility]\ntest_learns = "after_published"\ntest_inference_speed = "hidden"\n')
    made = subprocess.run([sys.executable, "-m", "cnngrade", "gradescope", "--lab", str(lab), "--out",
                           str(root / "autograder.zip")], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    return root / "autograder.zip"


def run_autograder(autograder: Path, root: Path, submission: Path | None) -> dict:
    """Unpack the zip into ROOT/source, put the submission in ROOT/submission (empty when None), run
    run_autograder: the results.json it wrote."""
    root.mkdir()
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    if submission is not None:
        shutil.copytree(submission, root / "submission", dirs_exist_ok=True)
    script = root / "source" / "run_autograder"
    script.chmod(0o755)
    run = subprocess.run([str(script)], capture_output=True, text=True, timeout=600, cwd=root,
                         env={**os.environ, "CNNGRADE_AUTOGRADER_ROOT": str(root), "CNNGRADE_PYTHON": sys.executable})
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return results


@dataclass
class Autograded:
    autograder: Path
    #: results.json of the MLP lab's reference, and of an empty submission
    reference: dict
    empty: dict


@background("gradescope", cost=22)
def autograde(scratch: Path, _warm: Runner) -> Autograded:
    sandbox_or_skip()
    autograder = build_autograder(scratch)
    return Autograded(autograder, run_autograder(autograder, scratch / "reference", MLP / "reference"),
                      run_autograder(autograder, scratch / "empty", None))


@pytest.fixture(scope="module")
def autograded(corpus) -> Autograded:
    return corpus.result("gradescope")


@pytest.mark.grades("gradescope")
def test_the_zip_holds_what_gradescope_runs(autograded):
    autograder = autograded.autograder
    with zipfile.ZipFile(autograder) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "cnngrade-src/pyproject.toml", "cnngrade-src/cnngrade/data/mnist_bundle.npz",
            "graders/test_1_structure.py", "lab/lab.toml", "lab/reference/mlp.py",
            "cnngrade-src/cnngrade/batch/templates/report.html.j2"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not any("__pycache__" in name for name in names)


@pytest.mark.grades("gradescope")
def test_run_autograder_grades_the_submission_in_the_sandbox(autograded):
    results = autograded.reference
    assert results["score"] == results["max_score"] == 120 and results["execution_time"] > 0
    tests = {t["number"]: t for t in results["tests"]}
    assert tests["test_learns"]["visibility"] == "after_published"
    assert tests["test_inference_speed"]["visibility"] == "hidden"
    assert tests["test_net_builds"]["visibility"] == "visible"
    board = {entry["name"]: entry for entry in results["leaderboard"]}
    assert 0.92 < board["accuracy"]["value"] <= 1 and board["FPS"]["value"] > 0 and board["FPS"]["order"] == "desc"
    assert results["extra_data"]["backend"].startswith("isolated")
    assert "checks passed, 0 did not" in results["output"]


def test_the_schema_refuses_what_gradescope_would():
    for broken in ({"tests": [{"name": "x", "status": "ok", "score": 1}]}, {"score": "ten"},
                   {"score": 1, "visibility": "sometimes"}, {"score": 1, "leaderboard": [{"value": 3}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


@pytest.mark.grades("gradescope")
def test_a_submission_that_cannot_be_graded_gets_a_reason(autograded):
    results = autograded.empty
    assert results["score"] == 0 and results["tests"] == []
    assert results["output"] == "Your submission could not be graded: the folder submission is empty."
