"""What this machine cannot judge: a check whose dataset is missing is left out of a student's own run,
saying how to get the data; a class run (``cnngrade batch``) refuses to start, naming it; a dataset the
lab cannot grade on is a usage error before any check runs, never a student's failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cnngrade.batch.runner import BatchError, BatchSettings, run_batch
from cnngrade.commands import batch
from tests.paths import ROOT

CIFAR_LAB = ROOT / "labs" / "cifar10-cnn"
PIMA_LAB = ROOT / "labs" / "pima-mlp"


@pytest.fixture
def no_cifar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty user cache (and the lab's own data_root, labs/cifar10-cnn/data, is not in the repository)."""
    monkeypatch.setenv("CNNGRADE_CACHE", str(tmp_path / "empty-cache"))
    assert not (CIFAR_LAB / "data").exists()


@pytest.mark.grades("lab_cifar_no_data")
def test_without_cifar10_the_labs_reference_gets_full_marks_of_what_can_be_judged(corpus):
    grade = corpus.grade("lab_cifar_no_data", "reference")
    assert grade.failed() == {} and grade.score == grade.max_score > 0
    assert "test_learns" not in grade.checks and "test_parameter_count" in grade.checks  # not in the score
    report = " ".join(grade.stdout.split())
    assert ("SKIP CifarNet learns: trained with the harness's recipe" in report and
            "(CIFAR-10 is not on this machine, so this check is left out of the score; to grade it, download "
            "CIFAR-10's python version where you are online, then pass --data-root DIR (with "
            "DIR/cifar-10-batches-py/); not in the score)" in report), report


def class_folder(tmp_path: Path) -> Path:
    student = tmp_path / "submissions" / "alice"
    student.mkdir(parents=True)
    shutil.copy(CIFAR_LAB / "reference" / "cifar10_cnn.py", student)
    return tmp_path / "submissions"


def test_a_class_run_without_the_labs_dataset_grades_no_one(tmp_path, no_cifar, capsys):
    submissions, out = class_folder(tmp_path), tmp_path / "grades"
    status = batch.main([str(submissions), "--out", str(out), "--lab", str(CIFAR_LAB), "--in-process"])
    error = " ".join(capsys.readouterr().err.split())
    assert status == 2 and not out.exists()
    assert error.startswith(
        f"cnngrade batch: the lab's accuracy checks need CIFAR-10 ([accuracy] dataset of {CIFAR_LAB / 'lab.toml'}), "
        "which is not on this machine: no student is graded without it. To provide it, download CIFAR-10's python "
        "version where you are online, then pass --data-root DIR"), error
    settings = BatchSettings(submissions, out, ROOT / "graders", CIFAR_LAB, in_process=True,
                             pytest_args=("--data-root", str(tmp_path / "nowhere")))
    with pytest.raises(BatchError, match="which is not on this machine: no student is graded without it"):
        run_batch(settings, runner=lambda *args, **kwargs: pytest.fail("a student was graded"))
    assert not out.exists()


def grading(warm, *options: str, submission: Path) -> subprocess.CompletedProcess:
    """A grading run of the accuracy checks (forked from the corpus's warm process)."""
    command = [sys.executable, "-m", "pytest", str(ROOT / "graders" / "test_7_accuracy.py"), "-p", "no:cacheprovider",
               "--submission", str(submission), *options]
    return warm(command, cwd=ROOT, env=dict(os.environ), timeout=300)


def test_a_dataset_the_lab_cannot_grade_on_is_a_usage_error_before_any_check(tmp_path, warm):
    """--dataset without [accuracy.NAME] thresholds; the lab's own file changed since its sha256 was set."""
    run = grading(warm, "--lab", str(CIFAR_LAB), "--dataset", "fashion-mnist", submission=CIFAR_LAB / "reference")
    text = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 4 and "passed" not in text and "failed" not in text, text
    assert (f"ERROR: {CIFAR_LAB / 'lab.toml'}: --dataset fashion-mnist: {CIFAR_LAB / 'lab.toml'} has no "
            "[accuracy.fashion-mnist] table, the thresholds of the accuracy checks on fashion-mnist") in text
    lab = tmp_path / "pima"
    shutil.copytree(PIMA_LAB, lab)
    with (lab / "dataset" / "pima.csv").open("a") as csv:
        csv.write("1,2,3,4,5,6,7,8,1,train\n")
    run = grading(warm, "--lab", str(lab), submission=lab / "reference")
    text = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 4 and '[datasets.pima] file = "dataset/pima.csv": the file\'s sha256 is' in text, text


def test_a_class_runs_data_root_is_made_absolute_for_gradings_that_run_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert batch.absolute_data_root(["-k", "learns", "--data-root", "data", "--data-root=~/d"]) == (
        "-k", "learns", "--data-root", str(tmp_path / "data"), f"--data-root={Path('~/d').expanduser()}")


def test_the_labs_own_dataset_goes_into_the_autograder_zip_and_a_changed_one_stops_the_build(tmp_path):
    from cnngrade.gradescope import BuildError, build_autograder

    built = build_autograder(tmp_path / "autograder.zip", ROOT / "graders", PIMA_LAB)
    with zipfile.ZipFile(built.path) as archive:
        assert archive.read("lab/dataset/pima.csv") == (PIMA_LAB / "dataset" / "pima.csv").read_bytes()
    assert built.dataset is None  # no dataset of cnngrade's: data/ holds nothing
    lab = tmp_path / "pima"
    shutil.copytree(PIMA_LAB, lab)
    (lab / "dataset" / "pima.csv").write_text("changed")
    with pytest.raises(BuildError, match=r'\[datasets.pima\] file = "dataset/pima.csv": the file\'s sha256 is'):
        build_autograder(tmp_path / "changed.zip", ROOT / "graders", lab)
    assert not (tmp_path / "changed.zip").exists()
