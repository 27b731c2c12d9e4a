"""``cnngrade batch`` and ``cnngrade merge``: a generated class (tests/class_folder.py) of 30 students,
graded with 2 workers in the sandbox, on the Net's cheaper checks (tests/class_folder.py's ``CHECKS``).

The whole class is graded once, and each of its distinct submissions alone (the job ``class``); a
smaller one is killed with SIGKILL at random moments and finished (the job ``resumed``), then graded
again as three shards and merged: both must give the gradebook of the uninterrupted run. The jobs run
in the background beside the corpus's gradings (tests/corpus.py).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnngrade.batch.gradebook import read_records
from cnngrade.batch.intake import slug_of
from cnngrade.batch.runner import BatchSettings, run_batch
from cnngrade.batch.shards import Shard
from cnngrade.grader.invocation import Grade, Runner, run_graders_on_each
from tests.class_folder import CHECKS, HOSTILE, REJECTED, gradable, rejected, write_class
from tests.corpus import background
from tests.paths import ROOT
from tests.sandboxes import sandbox_or_skip

GRADERS = ROOT / "graders"
#: the gradable students of the class that is killed, resumed and sharded
SMALL = {"ada", "softmax", "blank"}


@dataclass
class ClassRun:
    submissions: Path
    out: Path
    sources: dict[str, Path]
    #: what the command printed on stdout and stderr
    output: str
    #: the gradebook as the batch first wrote it
    first_rows: dict[str, dict[str, str]]
    #: each distinct source graded alone
    alone: dict[Path, Grade]

    def rows(self) -> dict[str, dict[str, str]]:
        return read_gradebook(self.out)


def read_gradebook(out: Path) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO((out / "gradebook.csv").read_text()))}


def without_seconds(rows: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {name: {k: v for k, v in row.items() if k != "seconds"} for name, row in rows.items()}


def grade_alone(source: Path, warm: Runner) -> Grade:
    """``source`` graded in a run of its own on the class's checks: isolated for the hostile ones,
    in-process for the others (trusted code, which is cheaper, and has no call timeout)."""
    options = ("--isolated", *CHECKS) if source.parent == HOSTILE else CHECKS[:2]
    (grade,) = run_graders_on_each([source], GRADERS, *options, runner=warm, timeout=600).values()
    return grade


@background("class", cost=41)
def grade_class(scratch: Path, warm: Runner) -> ClassRun:
    """The class graded by ``cnngrade batch`` with 2 workers, 8 students per grading run, in the sandbox;
    then each distinct source alone. (A process of its own: the batch parses submissions with ``ast``,
    which CPython 3.11 does not allow in two threads of one process at once, and this runs in a thread.)"""
    sandbox_or_skip()
    sources = write_class(scratch / "submissions")
    batch = warm([sys.executable, "-m", "cnngrade", "batch", str(scratch / "submissions"), "--out",
                  str(scratch / "grades"), "--workers", "2", "--per-process", "8", "--timeout", "600", "--", *CHECKS],
                 cwd=scratch, env=None, timeout=1200)
    assert batch.returncode == 0, batch.stderr[-3000:]
    first_rows = read_gradebook(scratch / "grades")
    distinct = sorted(set(sources.values()))
    with ThreadPoolExecutor(2) as pool:
        alone = dict(zip(distinct, pool.map(lambda source: grade_alone(source, warm), distinct), strict=True))
    return ClassRun(scratch / "submissions", scratch / "grades", sources, batch.stdout + batch.stderr, first_rows,
                    alone)


@pytest.fixture(scope="module")
def graded_class(corpus) -> ClassRun:
    return corpus.result("class")


grades_class = pytest.mark.grades("class")


@grades_class
def test_a_class_is_graded_into_one_row_per_student(graded_class):
    rows = graded_class.rows()
    students = len(graded_class.sources) + len(REJECTED)
    assert students >= 30 and len(rows) == students and list(rows) == sorted(rows)
    assert f"{students} students ({len(graded_class.sources)} graded, {len(REJECTED)} rejected)" in graded_class.output
    assert Counter(row["status"] for row in rows.values()) == {"graded": len(graded_class.sources),
                                                               "rejected": len(REJECTED)}
    header = next(csv.reader(io.StringIO((graded_class.out / "gradebook.csv").read_text())))
    assert header == ["student", "score", "max_score", "test_net_builds", "test_parameter_count", "test_output_shape",
                      "test_log_softmax", "status", "seconds", "backend", "reason"]
    assert rows["ada"]["score"] == rows["ada"]["max_score"] == "35" and rows["ada"]["backend"].startswith("isolated")
    assert rows["softmax"]["test_log_softmax"] == "0" and rows["blank"]["score"] == "0"
    assert "submission_metadata" not in rows  # Gradescope's export manifest is not a student


@grades_class
def test_every_row_equals_grading_that_submission_alone(graded_class):
    """Each distinct submission graded alone (:func:`grade_alone`: a grading run of its own, the same
    checks) scores what its students' rows say, check by check, though the batch grades 8 per run, each
    sandboxed."""
    records = read_records(graded_class.out)
    for student, source in graded_class.sources.items():
        record, grade = records[slug_of(student)], graded_class.alone[source]
        assert record.status == "graded", (student, record.reason)
        assert record.checks == {n: c["score"] for n, c in grade.checks.items()}, student
        assert (record.score, record.max_score) == (grade.score, grade.max_score), student


@grades_class
def test_each_bad_input_is_a_row_with_its_reason(graded_class):
    rows = graded_class.rows()
    for student, words in REJECTED.items():
        row = rows[student]
        assert row["status"] == "rejected" and row["score"] == "0" and row["max_score"] == "", row
        assert words in row["reason"], row
        feedback = (graded_class.out / slug_of(student) / "feedback.md").read_text()
        assert feedback.startswith(f"# {student}: not graded") and words in " ".join(feedback.split())


@grades_class
def test_each_student_gets_results_json_feedback_and_a_folder_of_their_own(graded_class):
    out = graded_class.out
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["batch.json", "gradebook.csv"]
    odd = "o'hara; rm -rf $HOME"
    assert slug_of(odd).startswith("o_hara_rm_-rf_HOME-") and (out / slug_of(odd)).is_dir()
    assert (out / slug_of("Zoë Ünal") / "results.json").is_file() and (out / "ada").is_dir()
    results = json.loads((out / "softmax" / "results.json").read_text())
    assert results["score"] == 25 and results["max_score"] == 35 and results["execution_time"] > 0
    assert {t["number"]: t["status"] for t in results["tests"]}["test_log_softmax"] == "failed"
    feedback = (out / "softmax" / "feedback.md").read_text()
    assert feedback.startswith("# softmax: 25/35\n") and "## To fix" in feedback
    assert "looks like softmax probabilities" in feedback and "- Net() builds with no arguments (5/5)" in feedback
    forged = json.loads((out / "forge_results" / "results.json").read_text())
    assert forged["score"] < 35  # what the submission wrote is not what the grader read


@grades_class
def test_a_rerun_grades_only_what_changed(graded_class, warm):
    settings = BatchSettings(graded_class.submissions, graded_class.out, GRADERS, workers=2, pytest_args=CHECKS)
    before = graded_class.rows()
    (graded_class.submissions / "softmax.py").write_text((ROOT / "reference" / "lab4_cnn.py").read_text())
    summary = run_batch(settings, runner=warm)
    assert summary.counts == {"skipped": len(before) - 1, "graded": 1}
    after = graded_class.rows()
    assert after["softmax"]["score"] == "35" and without_seconds(after) | {"softmax": None} == \
        without_seconds(before) | {"softmax": None}


# --------------------------------------------------------------------------- killed, resumed, sharded


def write_small_class(root: Path) -> Path:
    """Three gradable students of the class, and every bad input, in ``root``."""
    root.mkdir(parents=True)
    gradable(root, only=SMALL)
    rejected(root)
    return root


def batch_command(submissions: Path, out: Path, *options: str) -> list[str]:
    """The small class's batch: trusted code, graded in-process (what is tested is resuming and sharding)."""
    return [sys.executable, "-m", "cnngrade", "batch", str(submissions), "--out", str(out), "--workers", "2",
            "--in-process", *options, "--", *CHECKS[:2]]


def without_backend(rows: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {name: {k: v for k, v in row.items() if k != "backend"} for name, row in without_seconds(rows).items()}


def assert_whole(out: Path) -> None:
    """Every file under a final name is whole: JSON parses, the gradebook has its header and full rows."""
    for path in out.rglob("*"):
        if any(part.startswith(".partial-") for part in path.relative_to(out).parts) or not path.is_file():
            continue
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.name == "gradebook.csv":
            rows = list(csv.reader(io.StringIO(path.read_text())))
            assert rows[0][0] == "student" and all(len(row) == len(rows[0]) for row in rows)
        elif path.name == "feedback.md":
            assert path.read_text().startswith("# ") and path.read_text().endswith("\n")


@dataclass
class Resumed:
    #: the small class, and the output folder of its batch, killed and run to its end
    submissions: Path
    out: Path


@background("resumed", cost=22)
def resume_small_class(scratch: Path, warm: Runner) -> Resumed:
    """The small class's output folder after its batch was killed with SIGKILL at 3 random moments (each
    time checked for files that are not whole), then run to its end (in-process: :func:`batch_command`)."""
    small_class = write_small_class(scratch / "submissions")
    out = scratch / "grades"
    for moment in random.Random(4660).sample([1.5, 2.5, 3.5, 4.5, 6.0], 3):  # a fresh command each time
        process = subprocess.Popen(batch_command(small_class, out), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(moment)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if out.exists():
            assert_whole(out)
    finished = subprocess.run(batch_command(small_class, out), capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    (out / "stderr.txt").write_text(finished.stderr)
    return Resumed(small_class, out)


@pytest.fixture(scope="module")
def resumed(corpus) -> Resumed:
    return corpus.result("resumed")


@pytest.mark.grades("class", "resumed")
def test_a_batch_killed_at_random_moments_resumes_to_the_same_gradebook(graded_class, resumed):
    out = resumed.out
    assert not list(out.glob(".partial-*"))
    rows = without_backend(read_gradebook(out))
    assert rows == {name: row for name, row in without_backend(graded_class.first_rows).items()
                    if name in SMALL | set(REJECTED)}
    assert {row["backend"] for row in read_gradebook(out).values()} == {"in-process", ""}
    lines = (out / "stderr.txt").read_text().splitlines()  # not a terminal: a line per student, with progress
    assert any(line.startswith(f"[{len(rows)}/{len(rows)}] ") and "ETA 0:00" in line for line in lines), lines


@pytest.mark.grades("resumed")
def test_three_shards_merged_equal_the_whole_class(resumed, tmp_path, warm):
    """Shard 2/3 from GitLab's variables (the command reads them), 1/3 and 3/3 given; merged, they are the
    whole class's gradebook; a missing shard and a shard given twice are refused."""
    small_class = resumed.submissions
    for k in (1, 3):
        run_batch(BatchSettings(small_class, tmp_path / f"shard{k}", GRADERS, shard=Shard(k, 3), workers=2,
                                pytest_args=CHECKS[:2], in_process=True), runner=warm)
    run = subprocess.run(batch_command(small_class, tmp_path / "shard2"), capture_output=True, text=True,
                         env={**os.environ, "CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}, timeout=600)
    assert run.returncode == 0 and "cnngrade batch: shard 2/3 (from GitLab's" in run.stderr, run.stderr
    shards = [str(tmp_path / f"shard{k}") for k in (1, 2, 3)]
    merge = [sys.executable, "-m", "cnngrade", "merge"]
    merged = subprocess.run([*merge, *shards, "--out", str(tmp_path / "merged")], capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr
    assert without_seconds(read_gradebook(tmp_path / "merged")) == without_seconds(read_gradebook(resumed.out))
    gap = subprocess.run([*merge, *shards[:2], "--out", str(tmp_path / "m2")], capture_output=True, text=True)
    assert gap.returncode == 1 and "shard 3/3 is missing (a gap): grade it with" in gap.stderr
    overlap = subprocess.run([*merge, *shards, shards[0], "--out", str(tmp_path / "m3")], capture_output=True,
                             text=True)
    assert overlap.returncode == 1 and "shard 1/3 is given twice" in overlap.stderr


# --------------------------------------------------------------------------- shards, commands, runs


def test_bad_folders_are_refused_saying_why(tmp_path, warm):
    (tmp_path / "class").mkdir()
    for arguments, words in [([str(tmp_path / "nope"), "--out", str(tmp_path / "o")], "no such folder"),
                             ([str(tmp_path / "class"), "--out", str(tmp_path / "class" / "grades")],
                              "is inside"),
                             ([str(tmp_path / "class"), "--out", str(tmp_path / "o"), "--shard", "5/3"],
                              "needs 1 <= K <= N")]:
        run = warm([sys.executable, "-m", "cnngrade", "batch", *arguments, "--in-process"], cwd=tmp_path, env=None,
                   timeout=120)
        assert run.returncode == 2 and words in run.stderr, run.stderr


def test_a_run_past_its_timeout_is_killed_with_its_processes(tmp_path, corpus):
    (tmp_path / "test_sleeps.py").write_text("import os, subprocess, time\n\ndef test_sleeps():\n"
                                             "    subprocess.Popen(['sleep', '600'])\n"
                                             "    open('pid', 'w').write(str(os.getpid()))\n    time.sleep(600)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        corpus.warm.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sleeps.py"],
                        cwd=tmp_path, env=None, timeout=2)
    pid = int((tmp_path / "pid").read_text())
    time.sleep(0.5)
    assert not Path(f"/proc/{pid}").exists()
    in_session = subprocess.run(["pgrep", "-s", str(pid)], capture_output=True, text=True).stdout.split()
    living = [p for p in in_session if Path(f"/proc/{p}/stat").is_file()
              and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]  # not a zombie
    assert living == []


# --------------------------------------------------------------------------- the class report


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.geteuid() != 0:
        pytest.skip("no chromium here (`./run test` installs Debian's chromium when run as root)")
    assert found, "chromium is not installed: `apt-get install chromium` (./run test does it as root)"
    return found


@grades_class
def test_the_class_report_opens_in_a_browser_offline(graded_class, tmp_path):
    """report.html in headless Chromium: its screenshot is taken, its DOM has the histogram and one row per
    student, and the console shows no error (nothing it needs is fetched: it is self-contained)."""
    run = subprocess.run([sys.executable, "-m", "cnngrade", "report", str(graded_class.out)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    page = (graded_class.out / "report.html").as_uri()
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
               "--window-size=1200,1600"]
    shot = subprocess.run([*browser, f"--screenshot={tmp_path / 'report.png'}", page], capture_output=True,
                          text=True, timeout=120)
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot.stderr
    dom = subprocess.run([*browser, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert dom.stdout.count('class="student-row"') == len(graded_class.first_rows)
    assert '<img id="histogram" alt="Histogram' in dom.stdout and 'src="data:image/png;base64,' in dom.stdout
    assert "Zoë Ünal" in dom.stdout and "o'hara; rm -rf $HOME" in dom.stdout.replace("&#39;", "'")
    console = [line for line in shot.stderr.splitlines() + dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console


def test_a_students_section_shows_the_confusion_matrix_of_learns(tmp_path):
    """A student whose "learns" check recorded its confusion matrix gets it as a table in their section;
    a name with markup is shown as text."""
    from cnngrade.batch.gradebook import Record, write_student
    from cnngrade.batch.report import write_report

    results = {"score": 0, "max_score": 15, "tests": [
        {"name": "Net learns", "number": "test_learns", "score": 0, "max_score": 15, "status": "failed",
         "output": "Net reaches 50.00% accuracy", "extra_data": {"accuracy": 0.5, "confusion": [[3, 1], [2, 2]],
                                                                 "classes": ["cat", "dog"]}}]}
    name = "<script>alert(1)</script>"
    write_student(tmp_path, Record(name, slug_of(name), name, "graded", "x", 0, 15, {"test_learns": 0}, 1.0,
                                   "isolated (fork)"), results, "# feedback\n")
    html = write_report(tmp_path).read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'Confusion matrix of the "learns" check' in html or "Confusion matrix of the &#34;learns&#34;" in html
    assert "<th>cat</th><th>dog</th>" in html and "rgba(59, 115, 185, 0.75)" in html
