"""``cnngrade new DIR``: scaffold a lab (a commented ``lab.toml``, an empty reference, its templates)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from cnngrade.commands.arguments import user_path
from cnngrade.lab.release import release_files, write_files
from cnngrade.lab.scaffold import scaffold


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnngrade new", description="Scaffold a lab directory: lab.toml with "
                                "comments, reference/ with an empty network, student_templates/.")
    p.add_argument("directory", metavar="DIR", help="the lab's directory (must not exist, or be empty)")
    p.add_argument("--name", default=None, help="the lab's title (default: the directory's name)")
    p.add_argument("--part", default="model", help="the file (stem) that holds the network (default: model)")
    p.add_argument("--net-class", default="Net", help="the network class's name (default: Net)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    typed: str = args.directory  # shown as typed, so the next step printed below works where it was typed
    directory = user_path(typed)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        print(f"cnngrade new: {typed} exists and is not an empty directory; choose a new one.", file=sys.stderr)
        return 2
    for value, what in ((args.part, "--part"), (args.net_class, "--net-class")):
        if not value.isidentifier():
            print(f"cnngrade new: {what} {value!r} is not a Python name.", file=sys.stderr)
            return 2
    written = scaffold(directory, name=args.name or directory.name, part=args.part, net_class=args.net_class,
                       shown=shlex.quote(typed))
    templates = write_files(release_files(directory / "reference", {}), directory / "student_templates")
    for path in written:
        print(f"wrote {Path(typed, path.relative_to(directory))}")
    print(f"wrote {Path(typed, 'student_templates')}: {', '.join(templates)}")
    print("Next: write the reference's solution regions and lab.toml, then "
          f"`cnngrade check-lab {shlex.quote(typed)}`.")
    return 0
