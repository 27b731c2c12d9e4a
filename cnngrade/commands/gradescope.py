"""``cnngrade gradescope``: build Gradescope's ``autograder.zip`` for the lab (:mod:`cnngrade.gradescope`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnngrade.commands import default_dir


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnngrade gradescope", description="Build autograder.zip for a Gradescope "
                                "programming assignment: setup.sh, run_autograder, cnngrade, the graders, the lab.")
    p.add_argument("--out", type=Path, default=Path("autograder.zip"), help="the zip to write (default autograder.zip)")
    p.add_argument("--lab", type=Path, metavar="DIR", help="another lab (DIR/lab.toml, DIR/reference)")
    p.add_argument("--graders", type=Path, default=default_dir("graders"), help="the grader suite")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from cnngrade.gradescope import build_autograder
    from cnngrade.lab.config import ConfigError

    try:
        path = build_autograder(args.out, args.graders, args.lab)
    except (ConfigError, OSError) as exc:
        print(f"cnngrade gradescope: {exc}", file=sys.stderr)
        return 2
    print(f"cnngrade gradescope: {path} ({path.stat().st_size / 1e6:.1f} MB): upload it as the assignment's "
          "autograder (Ubuntu base image)")
    return 0
