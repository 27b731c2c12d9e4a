"""Which backend runs a submission: `cnngrade grade` sandboxes by default, and fails closed.

The header of every grading names the backend; `--isolated` refuses to start, with the reason and
the fix, when no sandbox works (``CNNGRADE_SANDBOX=none`` simulates such a machine), and
``--call-timeout`` reaches the sandboxed child's clock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cnngrade.grader.invocation import Runner
from tests.corpus import HANGING_TIMEOUT, background
from tests.paths import ROOT, TESTS
from tests.sandboxes import sandbox_or_skip

SOFTMAX = TESTS / "buggy" / "softmax"
NO_SANDBOX = {**os.environ, "CNNGRADE_SANDBOX": "none"}


def cnngrade(warm: Runner, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m cnngrade ARGS``, forked from the corpus's warm process."""
    return warm([sys.executable, "-m", "cnngrade", *args], cwd=cwd, env=env, timeout=900)


def graders(warm: Runner, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m pytest graders ARGS``, forked from the corpus's warm process."""
    return warm([sys.executable, "-m", "pytest", str(ROOT / "graders"), f"--rootdir={ROOT}", "-p", "no:cacheprovider",
                 *args], cwd=cwd, env=env, timeout=900)


@pytest.fixture(scope="module")
def sandboxed() -> None:
    sandbox_or_skip()


@pytest.mark.grades("softmax_command")
def test_cnngrade_grade_in_process_is_chosen_explicitly_and_needs_no_sandbox(corpus):
    result = corpus.grade("softmax_command")  # where CNNGRADE_SANDBOX=none: no sandbox works
    assert "Backend: in-process (the submission's code runs in the grading process, unsandboxed" in result.stdout
    assert result.exit_code == 1
    assert "FAIL  Output is log-softmax" in result.stdout
    assert "Score: 5/15" in result.stdout.splitlines()[-1] or "Score: 5/15" in result.stdout
    assert (result.score, result.max_score) == (5, 15)


def test_without_a_sandbox_grading_is_refused_with_the_reason_and_the_fix(tmp_path, warm):
    results = tmp_path / "results.json"
    for proc in (
        cnngrade(warm, "grade", str(SOFTMAX), f"--results-json={results}", cwd=tmp_path, env=NO_SANDBOX),
        graders(warm, f"--submission={SOFTMAX}", "--isolated", f"--results-json={results}", cwd=tmp_path,
                env=NO_SANDBOX),
    ):
        assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
        assert "found no usable sandbox on this machine, so it refuses to run the submission" in proc.stderr
        assert "bwrap: not tried (CNNGRADE_SANDBOX=none)" in proc.stderr
        assert "apt-get install bubblewrap" in proc.stderr
        assert "Score:" not in proc.stdout
        assert not results.exists()


@pytest.mark.grades("hostile_hanging")
def test_call_timeout_is_the_sandboxed_calls_limit(sandboxed, corpus):
    """The hanging hostile submissions are graded with --call-timeout (tests/corpus.py)."""
    for result in corpus.graded("hostile_hanging").grades.values():
        assert result.exit_code == 1
        outputs = [check["output"] for check in result.checks.values()]
        assert any(f"timed out after {HANGING_TIMEOUT} s (the time limit per call)" in o for o in outputs)


@pytest.mark.parametrize("options, words", [
    (("--call-timeout=5",), "use it with --isolated"),
    (("--isolated", "--call-timeout=0"), "--call-timeout must be a positive number of seconds, not 0"),
    (("--submission=a", "--results-json=r.json"), "must contain {name}"),
])
def test_bad_backend_options_are_usage_errors(options, words, tmp_path, warm):
    proc = graders(warm, f"--submission={SOFTMAX}", *options, cwd=tmp_path)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert words in proc.stderr


@background("under_tmp", cost=15)
def grade_a_copy_under_tmp(_scratch: Path, _warm: Runner) -> tuple[subprocess.CompletedProcess, dict]:
    """A copy of the project under /tmp (its files as git lists them, as a clone holds them) with its
    environment there too (this one, copied as hard links: seconds, not a reinstall) grades its
    reference with ``cnngrade grade``: its output, and the results.json it wrote."""
    sandbox_or_skip()
    scratch = Path(tempfile.mkdtemp(prefix="cnngrade-under-tmp-", dir="/tmp"))
    try:
        if os.stat(scratch).st_dev != os.stat(sys.prefix).st_dev:
            pytest.skip(f"/tmp and {sys.prefix} are different file systems: no hard-linked copy of the environment")
        project = scratch / "project"
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, check=True).stdout.decode().split("\0")
        for name in filter(None, listed):
            if (ROOT / name).is_file():
                (project / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, project / name)
        venv = project / ".venv"
        subprocess.run(["cp", "-al", sys.prefix, str(venv)], check=True)
        config = venv / "pyvenv.cfg"
        text = config.read_text()
        config.unlink()  # a file of its own, not a link to this environment's
        config.write_text(text)
        results = scratch / "results.json"
        proc = subprocess.run([str(venv / "bin" / "python"), "-m", "cnngrade", "grade", "reference",
                               f"--results-json={results}", "--", "-k",
                               "log_softmax or net_builds or architecture or pooling_from_scratch"],
                              cwd=project, capture_output=True, text=True, timeout=600)
        return proc, json.loads(results.read_text()) if results.is_file() else {}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.grades("under_tmp")
def test_a_project_whose_environment_lies_under_tmp_grades_sandboxed(sandboxed, corpus):
    """The sandbox's private /tmp must not hide the environment, the project, the submission or the
    working directory of a project under /tmp (:func:`grade_a_copy_under_tmp`)."""
    proc, grade = corpus.result("under_tmp")
    assert "Backend: isolated" in proc.stdout, proc.stdout + proc.stderr
    assert len(grade["tests"]) == 4 and grade["score"] == grade["max_score"] == 34, proc.stdout
