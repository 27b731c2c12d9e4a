"""The ``cnngrade`` command: ``grade`` a submission, ``release`` the templates, ``data`` sets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from cnngrade.config import ConfigError, LabConfig
from cnngrade.release import ReleaseError, release_files, stale_files, write_files

#: the repository this package was installed from (an editable install), if any
REPOSITORY = Path(__file__).resolve().parents[1]


def default_dir(name: str) -> Path:
    """``./name`` when it exists, else the repository's ``name``."""
    here = Path.cwd() / name
    return here if here.exists() else REPOSITORY / name


def grade(args: argparse.Namespace) -> int:
    """Run the graders on one submission (sandboxed unless ``--in-process``); print the score table."""
    options = [str(args.graders), f"--submission={args.submission}", "-p", "no:cacheprovider",
               f"--rootdir={args.graders.parent}", "-q",
               # this process imported cnngrade before pytest could rewrite its asserts (it has none to rewrite)
               "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if args.lab_config:
        options.append(f"--lab-config={args.lab_config}")
    if args.results_json:
        options.append(f"--results-json={args.results_json}")
    if args.run_all_code:
        options.append("--run-all-code")
    if not args.in_process:
        options.append("--isolated")
    return int(pytest.main(options + args.pytest_args))


def release(args: argparse.Namespace) -> int:
    """Regenerate the student templates from the reference (or, with --check, compare)."""
    try:
        notebooks = LabConfig.load(args.lab_config or args.graders / "lab.toml").data.get("release", {})
        files = release_files(args.reference, notebooks.get("notebooks", {}))
    except (ConfigError, ReleaseError) as exc:
        print(f"cnngrade release: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_files(files, args.out)
        for name in stale:
            print(f"{args.out / name} differs from what `cnngrade release` writes")
        return 1 if stale else 0
    changed = write_files(files, args.out)
    print(f"{len(files)} template files in {args.out}; {len(changed)} written: {', '.join(changed) or 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnngrade", description="Grade a PyTorch CNN lab submission, release its templates, manage datasets."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    g = commands.add_parser(
        "grade", help="grade one submission and print its score",
        usage="cnngrade grade [SUBMISSION] [options] [-- PYTEST_OPTIONS]",
    )
    g.add_argument("submission", nargs="?", type=Path, default=default_dir("reference"),
                   help="a directory with the lab's files, one .py or one .ipynb (default: reference/)")
    g.add_argument("--graders", type=Path, default=default_dir("graders"), help="the grader suite")
    g.add_argument("--lab-config", type=Path, help="thresholds and points (default: GRADERS/lab.toml)")
    g.add_argument("--results-json", type=Path, help="write Gradescope-style results.json here")
    g.add_argument("--run-all-code", action="store_true",
                   help="run the whole submission, not only its definitions")
    g.add_argument("--in-process", action="store_true",
                   help="run the submission's code in the grading process, unsandboxed (trusted code only: "
                   "code run this way can forge its score); by default it runs in a sandbox, and grading "
                   "is refused when no sandbox works on this machine")
    g.set_defaults(run=grade)

    r = commands.add_parser("release", help="regenerate student_templates/ from reference/")
    r.add_argument("--reference", type=Path, default=default_dir("reference"))
    r.add_argument("--out", type=Path, default=default_dir("student_templates"))
    r.add_argument("--graders", type=Path, default=default_dir("graders"))
    r.add_argument("--lab-config", type=Path, help="(default: GRADERS/lab.toml)")
    r.add_argument("--check", action="store_true", help="only report templates that are out of date")
    r.set_defaults(run=release)

    commands.add_parser("data", help="fetch full MNIST into the user cache; show available datasets",
                        add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["data"]:
        from cnngrade.data.cli import main_data

        return main_data(argv[1:])
    pytest_args: list[str] = []
    if "--" in argv:  # `cnngrade grade SUBMISSION -- -k log_softmax`: the rest goes to pytest
        argv, pytest_args = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = build_parser().parse_args(argv)
    args.pytest_args = pytest_args
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
