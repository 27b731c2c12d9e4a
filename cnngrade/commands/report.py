"""``cnngrade report DIR``: write ``DIR/report.html``, the class at a glance (:mod:`cnngrade.batch.report`)."""

from __future__ import annotations

import argparse
import sys

from cnngrade.commands.arguments import user_path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnngrade report", description="Write DIR/report.html from a `cnngrade batch` "
                                "output folder: score histogram, pass rate per check, common failures, slowest "
                                "submissions, a section per student. Self-contained: it opens without a network.")
    p.add_argument("folder", type=user_path, metavar="DIR")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from cnngrade.batch.report import ReportError, write_report

    if not args.folder.is_dir():
        print(f"cnngrade report: {args.folder}: no such folder", file=sys.stderr)
        return 2
    try:
        path = write_report(args.folder)
    except ReportError as exc:
        print(f"cnngrade report: {exc}", file=sys.stderr)
        return 1
    print(f"cnngrade report: {path}")
    return 0
