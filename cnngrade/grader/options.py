"""The command-line options of a grading run, how to tell a grading run from any other pytest run, and
the check that a sandbox works for ``--isolated``.

Light on purpose: :mod:`cnngrade.plugin` (loaded by every pytest run in an environment where cnngrade is
installed) imports this module, which imports no torch, so that a run that does not grade pays nothing
and a refused ``--isolated`` is refused at once.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from cnngrade.submission.isolated.limits import Limits

#: the file that marks a directory as a grader suite (``graders/lab.toml``)
LAB_FILE = "lab.toml"


def add_options(parser: pytest.Parser) -> None:
    """Register ``--submission``, ``--isolated`` and the other grading options."""
    group = parser.getgroup("cnngrade", "grading a CNN lab submission")
    group.addoption(
        "--submission",
        metavar="PATH",
        action="append",
        help="submission to grade: a directory with the lab's files, one .py or one .ipynb (default: "
        "student_templates/); give it several times to grade several submissions in one run",
    )
    group.addoption(
        "--lab", metavar="DIR",
        help="grade against the lab in DIR: its lab.toml, reference/ and student_templates/ (default: the "
             "project's graders/lab.toml, reference/ and student_templates/)",
    )
    group.addoption(
        "--lab-config", metavar="PATH", help="lab thresholds and points (default: graders/lab.toml, or DIR/lab.toml "
                                             "with --lab DIR)"
    )
    group.addoption(
        "--run-all-code",
        action="store_true",
        help="run the whole submission file, not only its definitions (training loops included)",
    )
    group.addoption(
        "--results-json",
        metavar="PATH",
        help="write Gradescope-style results.json here; with several submissions the path must contain "
        "{name}, which becomes each submission's name",
    )
    group.addoption(
        "--reference",
        metavar="PATH",
        help="the lab's reference solution (default: reference/, or DIR/reference with --lab DIR)",
    )
    group.addoption("--dataset", metavar="NAME", help="dataset for the accuracy checks (default: lab.toml)")
    group.addoption("--data-root", metavar="DIR", help="directory holding torchvision-layout datasets "
                    "(default: [accuracy] data_root of lab.toml, then the user cache)")
    group.addoption(
        "--isolated",
        action="store_true",
        help="run the submission in a sandboxed child process (for untrusted code); refuses to grade "
        "when this machine offers no sandbox",
    )
    group.addoption(
        "--all-checks",
        action="store_true",
        help="list every check in the score report, passed ones too (as -v does); by default it lists the "
        "checks that did not pass",
    )
    group.addoption(
        "--call-timeout",
        metavar="SECONDS",
        type=float,
        help="with --isolated: wall-clock seconds one call into the submission may take (default 60, "
        "or CNNGRADE_CALL_TIMEOUT; training may take 10 times as long)",
    )


def isolation_limits(config: pytest.Config) -> Limits | None:
    """The sandbox's limits with ``--isolated`` (None without), after checking that a sandbox works
    here: it fails closed, with a usage error that says why and how to fix it, before any heavy import."""
    if not config.getoption("--isolated"):
        if config.getoption("--call-timeout") is not None:
            raise pytest.UsageError("--call-timeout limits the isolated backend's calls: use it with --isolated")
        return None
    from cnngrade.submission.isolated import sandbox

    try:
        sandbox.detect()
        timeout = config.getoption("--call-timeout")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"--call-timeout must be a positive number of seconds, not {timeout:g}")
        return Limits.from_env(**({} if timeout is None else {"call_timeout": timeout}))
    except (sandbox.SandboxUnavailable, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from None


def wants_benchmark_output(config: pytest.Config) -> bool:
    """Whether the run asks pytest-benchmark for something: a ``--benchmark-...`` option (``--benchmark-json
    FILE``, ``--benchmark-save``, ...) on the command line, in ``PYTEST_ADDOPTS`` or in the ini file's
    ``addopts``. A grading run that does not leaves pytest-benchmark out (no header, no table)."""
    args = [*config.invocation_params.args, *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
            *config.getini("addopts")]
    return any(str(arg).startswith("--benchmark") for arg in args)


def is_grading_run(config: pytest.Config) -> bool:
    """Whether this run grades: it is given ``--submission``, or one of its paths lies in a grader
    suite (a directory holding ``lab.toml``, such as ``graders/``), looking no higher than the
    rootdir or the directory pytest was started in."""
    if config.getoption("--submission"):
        return True
    here = config.invocation_params.dir
    stops = {Path(config.rootpath).resolve(), here.resolve()}
    for arg in config.args:
        path = (here / arg.split("::", 1)[0]).resolve()
        for directory in (path, *path.parents):
            if (directory / LAB_FILE).is_file():
                return True
            if directory in stops:
                break
    return False
