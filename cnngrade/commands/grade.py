"""``cnngrade grade [SUBMISSION ...]``: run the graders on submissions and print the score.

Sandboxed by default (``--isolated``; grading is refused where no sandbox works); ``--in-process``
runs trusted code in the grading process. Options after ``--`` go to pytest.
"""

from __future__ import annotations

import argparse

from cnngrade.commands import default_dir
from cnngrade.commands.arguments import user_path, user_pattern
from cnngrade.grader.invocation import pytest_arguments


def build_parser() -> argparse.ArgumentParser:
    g = argparse.ArgumentParser(
        prog="cnngrade grade", description="Grade submissions and print their score.",
        usage="cnngrade grade [SUBMISSION ...] [options] [-- PYTEST_OPTIONS]",
    )
    g.add_argument("submissions", nargs="*", type=user_path, metavar="SUBMISSION",
                   help="a directory with the lab's files, one .py or one .ipynb (default: reference/); "
                   "several are graded one after the other in one run")
    g.add_argument("--graders", type=user_path, default=default_dir("graders"), help="the grader suite")
    g.add_argument("--lab", type=user_path, metavar="DIR", help="grade another lab: DIR holds its lab.toml and "
                   "reference/ (default: the project's lab, GRADERS/lab.toml)")
    g.add_argument("--lab-config", type=user_path,
                   help="thresholds and points (default: GRADERS/lab.toml, or DIR/lab.toml)")
    g.add_argument("--results-json", type=user_pattern, help="write Gradescope-style results.json here (with several "
                   "submissions the path must contain {name})")
    g.add_argument("--run-all-code", action="store_true",
                   help="run the whole submission, not only its definitions")
    g.add_argument("--all-checks", action="store_true",
                   help="list every check in the score report, passed ones too (by default: those that did not pass)")
    g.add_argument("--in-process", action="store_true",
                   help="run the submission's code in the grading process, unsandboxed (trusted code only: "
                   "code run this way can forge its score); by default it runs in a sandbox, and grading "
                   "is refused when no sandbox works on this machine")
    return g


def main(argv: list[str]) -> int:
    pytest_args: list[str] = []
    if "--" in argv:  # `cnngrade grade SUBMISSION -- -k log_softmax`: the rest goes to pytest
        argv, pytest_args = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = build_parser().parse_args(argv)
    import pytest

    arguments = pytest_arguments(
        args.graders, args.submissions or [default_dir("reference")], results_json=args.results_json,
        lab_config=args.lab_config, lab=args.lab, run_all_code=args.run_all_code, isolated=not args.in_process,
        all_checks=args.all_checks,
    )
    # this process imported cnngrade before pytest could rewrite its asserts (it has none to rewrite)
    arguments += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    return int(pytest.main(arguments + pytest_args))
