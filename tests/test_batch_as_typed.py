"""``cnngrade batch`` as an instructor types it: relative paths from their own folder, names with spaces
and non-ASCII characters, errors of cnngrade's that are never kept as a student's result, and nothing
(a process, a socket's folder) left behind when a batch or its owner ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cnngrade.batch.intake import slug_of
from cnngrade.batch.runner import MANIFEST, BatchSettings, run_batch
from cnngrade.grader.invocation import Runner
from cnngrade.grader.submissions import NAME_FIELD, Submissions
from tests.paths import ROOT
from tests.test_batch import GRADERS, read_gradebook

#: a cheap check: what is tested here is the batch around it
CHEAP = ("-k", "test_net_builds")


def small_class(folder: Path) -> Path:
    """``folder/submissions``: the reference as ``alice`` and as ``zoë o'hara`` (a space, an apostrophe, a
    non-ASCII letter), and the softmax mistake as ``bob.py``."""
    submissions = folder / "submissions"
    for name in ("alice", "zoë o'hara"):
        (submissions / name).mkdir(parents=True)
        shutil.copyfile(ROOT / "reference" / "lab4_cnn.py", submissions / name / "lab4_cnn.py")
    shutil.copyfile(ROOT / "tests" / "buggy" / "softmax" / "lab4_cnn.py", submissions / "bob.py")
    return submissions


def typed(folder: Path, *argv: str, runner: Runner) -> subprocess.CompletedProcess:
    """``cnngrade ARGV`` typed in ``folder``, its temporary files in ``folder/tmp`` (to see what it leaves)."""
    (folder / "tmp").mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(folder / "tmp")}
    return runner([sys.executable, "-m", "cnngrade", *argv], cwd=folder, env=env, timeout=300)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the running processes that mention ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def test_relative_paths_typed_in_another_folder(tmp_path, warm):
    """The README's `cnngrade batch submissions/ --out grades/`, typed in the instructor's folder (it ended
    in FileNotFoundError for every student: the warm server was sent a scratch folder relative to the
    user's). Nothing it started outlives it."""
    small_class(tmp_path)
    run = typed(tmp_path, "batch", "submissions/", "--out", "grades/", "--in-process", "--", *CHEAP, runner=warm)
    assert run.returncode == 0, run.stderr
    rows = read_gradebook(tmp_path / "grades")
    assert {name: row["status"] for name, row in rows.items()} == dict.fromkeys(("alice", "bob", "zoë o'hara"),
                                                                                   "graded")
    assert (tmp_path / "grades" / slug_of("zoë o'hara") / "feedback.md").read_text().startswith("# zoë o'hara: ")
    manifest = json.loads((tmp_path / "grades" / MANIFEST).read_text())
    assert manifest["finished"] is True and manifest["errors"] == []
    assert manifest["submissions"] == str(tmp_path / "submissions")
    assert list((tmp_path / "tmp").iterdir()) == [], "the batch left temporary files behind"
    assert processes_mentioning(str(tmp_path / "tmp")) == [], "a process of the batch outlived it"


def test_an_error_of_cnngrades_is_graded_again_and_fails_the_batch(tmp_path, warm):
    """A grading that fails through no fault of the student's (here: an option the grading run refuses)
    is an ``error`` row: the batch exits 1 listing it, the student's feedback says it is not theirs,
    and the next run grades it again (it was kept as final: "error (already graded)", exit 0)."""
    small_class(tmp_path)
    command = ("batch", "submissions", "--out", "grades", "--in-process", "--", "--no-such-option")
    for attempt in (1, 2):
        run = typed(tmp_path, *command, runner=warm)
        assert run.returncode == 1, run.stderr
        assert "already graded" not in run.stderr, f"attempt {attempt} kept an error as final"
        assert "3 student(s) not graded because of an error of cnngrade's" in run.stderr
        assert "  - zoë o'hara: grading ended with exit status 4 and no score" in run.stderr
        assert "Run the same command again to grade them" in run.stderr
    feedback = (tmp_path / "grades" / "bob" / "feedback.md").read_text()
    assert "not in your work. The course staff were told" in feedback and "Fix this" not in feedback
    manifest = json.loads((tmp_path / "grades" / MANIFEST).read_text())
    assert manifest["finished"] is True and sorted(manifest["errors"]) == ["alice", "bob", "zoë o'hara"]


def test_error_rows_are_graded_again_without_force(tmp_path):
    """Library level: a run whose grading of ``bob`` fails leaves an ``error`` row; the same batch run
    again (same fingerprints, no ``force``) grades exactly that student and keeps the others' rows."""
    settings = BatchSettings(small_class(tmp_path), tmp_path / "grades", GRADERS, per_process=1)
    graded: list[str] = []

    def runner(command, *, cwd, env, timeout, failing=("bob",)):  # noqa: ANN001, ANN202 - a Runner
        """Writes a results.json for each submission of the command but those named in ``failing``."""
        paths = [Path(arg) for arg in command[4:command.index("--graders")]]
        pattern = command[command.index("--results-json") + 1]
        for name in Submissions.from_options(paths, pattern).names:
            graded.append(name)
            if name.removesuffix(".py") not in failing:
                results = {"score": 1, "max_score": 2, "tests": [{"number": "test_net_builds", "name": "Net builds",
                                                                 "score": 1, "max_score": 2, "status": "failed"}]}
                Path(pattern.replace(NAME_FIELD, name)).write_text(json.dumps(results))
        return subprocess.CompletedProcess(command, 1, "", "the grading machine failed")

    first = run_batch(settings, runner)
    assert {r.student: r.status for r in first.records.values()} == {"alice": "graded", "bob": "error",
                                                                     "zoë o'hara": "graded"}
    assert [r.student for r in first.errors] == ["bob"]
    graded.clear()
    second = run_batch(settings, lambda *a, **k: runner(*a, **k, failing=()))
    assert [name.removesuffix(".py") for name in graded] == ["bob"]
    assert {r.student: r.status for r in second.records.values()} == dict.fromkeys(("alice", "bob", "zoë o'hara"),
                                                                                   "graded")
    assert second.errors == [] and second.counts == {"skipped": 2, "graded": 1}


def _alive(pid: str) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_warm_server_ends_with_its_owner(tmp_path):
    """A batch killed by SIGKILL (or a test session stopped) leaves no warm server behind, nor its
    socket's folder (three of them, 540 MB each, outlived every run of the suite)."""
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from cnngrade.batch.warm import WarmRunner
        warm = WarmRunner()
        warm._wait_ready()
        print(warm._server.pid, warm._directory, flush=True)
        time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        server, directory = owner.stdout.readline().split()
        assert Path(directory).is_dir() and Path(directory).parent == tmp_path
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    deadline = time.monotonic() + 30
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(server), "the warm server outlived its owner"
    assert not Path(directory).exists(), "the warm server's socket folder was left behind"
