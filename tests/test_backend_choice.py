"""Which backend runs a submission: `cnngrade grade` sandboxes by default, and fails closed.

The header of every grading names the backend; `--isolated` refuses to start, with the reason and
the fix, when no sandbox works (``CNNGRADE_SANDBOX=none`` simulates such a machine), and
``--call-timeout`` reaches the sandboxed child's clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT, TESTS
from tests.sandboxes import sandbox_or_skip

SOFTMAX = TESTS / "buggy" / "softmax"
NO_SANDBOX = {**os.environ, "CNNGRADE_SANDBOX": "none"}


def cnngrade(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnngrade", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def graders(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "graders"), f"--rootdir={ROOT}",
                           "-p", "no:cacheprovider", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def sandboxed() -> None:
    sandbox_or_skip()


def test_cnngrade_grade_sandboxes_by_default(sandboxed, tmp_path):
    results = tmp_path / "results.json"
    proc = cnngrade("grade", str(SOFTMAX), f"--results-json={results}", "--", "-k", "log_softmax or net_builds",
                    cwd=tmp_path)
    assert "Backend: isolated (the submission runs in a sandbox: bubblewrap" in proc.stdout
    assert proc.returncode == 1
    assert "FAIL  Output is log-softmax" in proc.stdout
    assert json.loads(results.read_text())["score"] == 5


def test_cnngrade_grade_in_process_is_chosen_explicitly(tmp_path):
    proc = cnngrade("grade", str(SOFTMAX), "--in-process", "--", "-k", "net_builds", cwd=tmp_path)
    assert "Backend: in-process (the submission's code runs in the grading process, unsandboxed" in proc.stdout
    assert proc.returncode == 0, proc.stdout
    assert "Score: 5/5" in proc.stdout


def test_without_a_sandbox_grading_is_refused_with_the_reason_and_the_fix(tmp_path):
    results = tmp_path / "results.json"
    for proc in (
        cnngrade("grade", str(SOFTMAX), f"--results-json={results}", cwd=tmp_path, env=NO_SANDBOX),
        graders(f"--submission={SOFTMAX}", "--isolated", f"--results-json={results}", cwd=tmp_path, env=NO_SANDBOX),
    ):
        assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
        assert "found no usable sandbox on this machine, so it refuses to run the submission" in proc.stderr
        assert "bwrap: not tried (CNNGRADE_SANDBOX=none)" in proc.stderr
        assert "apt-get install bubblewrap" in proc.stderr
        assert "Score:" not in proc.stdout
        assert not results.exists()


def test_the_in_process_backend_needs_no_sandbox(tmp_path):
    proc = graders(f"--submission={SOFTMAX}", "-k", "net_builds", cwd=tmp_path, env=NO_SANDBOX)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Score: 5/5" in proc.stdout


def test_call_timeout_is_the_sandboxed_calls_limit(sandboxed, tmp_path):
    results = tmp_path / "results.json"
    proc = graders(f"--submission={TESTS / 'hostile' / 'infinite_loop'}", "--isolated", "--call-timeout=2",
                   f"--results-json={results}", "-k", "output_shape", cwd=tmp_path,
                   env={**os.environ, "CNNGRADE_MAX_RESTARTS": "0"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (check,) = json.loads(results.read_text())["tests"]
    assert "timed out after 2 s (the time limit per call)" in check["output"]


@pytest.mark.parametrize("options, words", [
    (("--call-timeout=5",), "use it with --isolated"),
    (("--isolated", "--call-timeout=0"), "--call-timeout must be a positive number of seconds, not 0"),
])
def test_bad_backend_options_are_usage_errors(options, words, tmp_path):
    proc = graders(f"--submission={SOFTMAX}", *options, cwd=tmp_path)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert words in proc.stderr
