"""The pytest command line of a grading, and grading in a fresh pytest process.

:func:`pytest_arguments` builds the command line once, for ``cnngrade grade`` (which runs it with
``pytest.main``) and for :func:`run_graders` / :func:`run_graders_on_each`, which run it as a fresh
``python -m pytest`` and read back each submission's ``results.json`` (written by the grading
process's plugin, never by the submission).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnngrade.grader.scoring import INTERNAL_ERROR
from cnngrade.grader.submissions import NAME_FIELD, Submissions


def pytest_arguments(
    graders: Path,
    submissions: Sequence[Path],
    *,
    results_json: Path | str | None = None,
    lab_config: Path | None = None,
    lab: Path | None = None,
    run_all_code: bool = False,
    isolated: bool = False,
    files: Sequence[str] = (),
    quiet: bool = True,
    all_checks: bool = False,
) -> list[str]:
    """``GRADERS[/FILE ...] --rootdir=GRADERS/.. --submission=S ... [options]``: the arguments of one
    grading run. ``files`` limits it to some grader files (``test_2_forward.py``); ``all_checks`` lists
    every check in the score report.

    ``--assert=plain``: the graders fail through :mod:`cnngrade.grader.feedback`, never a bare
    ``assert``, so pytest need not rewrite the modules of every plugin it loads (hypothesis's and
    cnngrade's, about 2 s a run where bytecode is not cached, as with PYTHONDONTWRITEBYTECODE)."""
    arguments = [*([str(graders / f) for f in files] or [str(graders)]), f"--rootdir={graders.parent}",
                 *(f"--submission={s}" for s in submissions), "-p", "no:cacheprovider", "--assert=plain"]
    if quiet:
        arguments.append("-q")
    if results_json:
        arguments.append(f"--results-json={results_json}")
    if lab_config:
        arguments.append(f"--lab-config={lab_config}")
    if lab:
        arguments.append(f"--lab={lab}")
    if run_all_code:
        arguments.append("--run-all-code")
    if isolated:
        arguments.append("--isolated")
    if all_checks:
        arguments.append("--all-checks")
    return arguments


@dataclass(frozen=True)
class Grade:
    """The outcome of one submission's grading: each check's status and feedback, the score, the exit
    code and the output of the run (shared by every submission graded in that run)."""

    checks: dict[str, dict]
    score: float
    max_score: float
    exit_code: int
    stdout: str

    def failed(self) -> dict[str, str]:
        """Failed checks (by check name) with their feedback."""
        return {name: c["output"] for name, c in self.checks.items() if c["status"] == "failed"}

    def passed(self) -> set[str]:
        """Names of the checks that passed."""
        return {name for name, c in self.checks.items() if c["status"] == "passed"}

    def internal_errors(self) -> dict[str, str]:
        """Checks that ended in an internal error (a bug in cnngrade), with their output."""
        return {name: c["output"] for name, c in self.checks.items()
                if c["status"] == "failed" and c["output"].startswith(INTERNAL_ERROR)}


def run_fresh(command: Sequence[str], *, cwd: Path | str, env: Mapping[str, str] | None,
              timeout: float) -> subprocess.CompletedProcess:
    """``command`` in a fresh process, its output captured as text."""
    return subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else dict(env))


#: how a grading command is run: :func:`run_fresh`'s signature
Runner = Callable[..., subprocess.CompletedProcess]


def run_graders_on_each(
    submissions: Sequence[Path],
    graders: Path,
    *options: str,
    cwd: Path | None = None,
    files: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 3600,
    runner: Runner = run_fresh,
) -> dict[str, Grade]:
    """Grade ``submissions`` in one ``python -m pytest GRADERS`` run (with ``options``), a fresh process
    unless ``runner`` runs it otherwise; return each one's :class:`Grade` by submission name (see
    :mod:`cnngrade.grader.submissions`)."""
    names = Submissions.from_options(list(submissions), None).names
    with tempfile.TemporaryDirectory(prefix="cnngrade-") as scratch:
        pattern = Path(scratch) / f"{NAME_FIELD}.json"
        command = [sys.executable, "-m", "pytest",
                   *pytest_arguments(graders, submissions, results_json=pattern, files=files), *options]
        proc = runner(command, cwd=cwd or graders.parent, env=env, timeout=timeout)
        grades = {}
        for name in names:
            results = Path(str(pattern).replace(NAME_FIELD, name))
            if not results.is_file():
                raise RuntimeError(f"the grader run wrote no results for {name}:\n{proc.stdout}\n{proc.stderr}")
            data = json.loads(results.read_text(encoding="utf-8"))
            grades[name] = Grade({t["number"]: t for t in data["tests"]}, data["score"], data["max_score"],
                                 proc.returncode, proc.stdout)
    return grades


def run_graders(submission: Path, graders: Path, *options: str, cwd: Path | None = None,
                files: Sequence[str] = (), env: Mapping[str, str] | None = None, timeout: float = 1800,
                runner: Runner = run_fresh) -> Grade:
    """Grade one submission in a fresh pytest process (see :func:`run_graders_on_each`)."""
    (grade,) = run_graders_on_each([submission], graders, *options, cwd=cwd, files=files, env=env,
                                   timeout=timeout, runner=runner).values()
    return grade
