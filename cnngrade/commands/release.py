"""``cnngrade release``: regenerate the student templates from the reference (``--check``: compare)."""

from __future__ import annotations

import argparse
import sys

from cnngrade.commands import default_dir
from cnngrade.commands.arguments import user_path
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.lab.release import ReleaseError, release_files, stale_files, write_files


def build_parser() -> argparse.ArgumentParser:
    r = argparse.ArgumentParser(prog="cnngrade release",
                                description="Regenerate student_templates/ from reference/.")
    r.add_argument("--lab", type=user_path, metavar="DIR",
                   help="a lab directory: its reference/, student_templates/ and lab.toml (default: the project's)")
    r.add_argument("--reference", type=user_path, help="(default: reference/, or DIR/reference)")
    r.add_argument("--out", type=user_path, help="(default: student_templates/, or DIR/student_templates)")
    r.add_argument("--graders", type=user_path, default=default_dir("graders"))
    r.add_argument("--lab-config", type=user_path, help="(default: GRADERS/lab.toml, or DIR/lab.toml)")
    r.add_argument("--check", action="store_true", help="only report templates that are out of date")
    return r


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    lab = args.lab
    args.reference = args.reference or (lab / "reference" if lab else default_dir("reference"))
    args.out = args.out or (lab / "student_templates" if lab else default_dir("student_templates"))
    config = args.lab_config or (lab / "lab.toml" if lab else args.graders / "lab.toml")
    try:
        notebooks = LabConfig.load(config).data.get("release", {})
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
