"""The ``cnngrade`` command: its verbs, one module each.

* ``cnngrade grade``: :mod:`.grade`, grade submissions (sandboxed unless ``--in-process``);
* ``cnngrade release``: :mod:`.release`, regenerate the student templates from the reference;
* ``cnngrade data``: :mod:`.data`, fetch and inspect datasets;
* ``cnngrade new``: :mod:`.new`, scaffold a lab;
* ``cnngrade check-lab``: :mod:`.check_lab`, check that a lab is ready to grade;
* ``cnngrade batch``: :mod:`.batch`, grade a whole class into a gradebook;
* ``cnngrade merge``: :mod:`.merge`, join the gradebooks of a class's shards;
* ``cnngrade report``: :mod:`.report`, a class's HTML report;
* ``cnngrade gradescope``: :mod:`.gradescope`, Gradescope's autograder.zip;
* ``cnngrade conform``: :mod:`.conform`, check a layer of your own against torch (the property suites).

Each verb's module is imported only when that verb runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

#: the repository this package was installed from (an editable install), if any
REPOSITORY = Path(__file__).resolve().parents[2]

#: verb -> (module, one-line help)
VERBS = {
    "grade": ("cnngrade.commands.grade", "grade submissions and print their score"),
    "release": ("cnngrade.commands.release", "regenerate student_templates/ from reference/"),
    "data": ("cnngrade.commands.data", "fetch full MNIST into the user cache; show available datasets"),
    "new": ("cnngrade.commands.new", "scaffold a lab: a commented lab.toml, an empty reference, its templates"),
    "check-lab": ("cnngrade.commands.check_lab", "check a lab: its lab.toml, its templates, its reference's marks"),
    "batch": ("cnngrade.commands.batch", "grade a whole class: per-student results and feedback, a gradebook"),
    "merge": ("cnngrade.commands.merge", "join the output folders of a class's shards into one gradebook"),
    "report": ("cnngrade.commands.report", "write a batch's report.html: the class at a glance"),
    "gradescope": ("cnngrade.commands.gradescope", "build Gradescope's autograder.zip for the lab"),
    "conform": ("cnngrade.commands.conform", "check a layer of your own against torch, property by property"),
}


def default_dir(name: str) -> Path:
    """``./name`` when it exists, else the repository's ``name``."""
    here = Path.cwd() / name
    return here if here.exists() else REPOSITORY / name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnngrade", description="Grade PyTorch CNN lab submissions, release their templates, manage datasets."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for verb, (_, summary) in VERBS.items():
        commands.add_parser(verb, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in VERBS:
        build_parser().parse_args(argv)  # prints the usage (or the help) and exits
        return 2
    return int(importlib.import_module(VERBS[argv[0]][0]).main(argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
