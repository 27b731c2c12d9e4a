"""``cnngrade gradescope``: build Gradescope's ``autograder.zip`` for the lab (:mod:`cnngrade.gradescope`)."""

from __future__ import annotations

import argparse
import sys

from cnngrade.commands import default_dir
from cnngrade.commands.arguments import user_path

EPILOG = """\
setup.sh installs torch and torchvision pinned to the CPU builds of the versions installed here, from
PyTorch's CPU wheel index ($CNNGRADE_TORCH_INDEX_URL overrides it at setup time; set but empty: pip's own
index), then cnngrade with every other package at the version installed here (constraints.txt in the zip).
Build the zip in the environment where you ran the tests and check-lab.

A lab whose [accuracy] dataset is not mnist-bundled gets its dataset's files in the zip, looked for in
--data-root DIR, else [accuracy] data_root of lab.toml, then the user cache; the build stops when it is
nowhere."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnngrade gradescope", description="Build autograder.zip for a Gradescope "
                                "programming assignment: setup.sh, run_autograder, cnngrade, the graders, the lab "
                                "and its data.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=user_path, default="autograder.zip", help="the zip to write (default autograder.zip)")
    p.add_argument("--lab", type=user_path, metavar="DIR", help="another lab (DIR/lab.toml, DIR/reference)")
    p.add_argument("--graders", type=user_path, default=default_dir("graders"), help="the grader suite")
    p.add_argument("--data-root", type=user_path, metavar="DIR",
                   help="where the lab's dataset is, when it does not ship with cnngrade: its files go into the zip "
                        "(default: [accuracy] data_root of lab.toml, then the user cache)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from cnngrade.gradescope import BuildError, build_autograder
    from cnngrade.lab.config import ConfigError

    absolute = [path.absolute() if path else None for path in (args.out, args.graders, args.lab, args.data_root)]
    try:
        built = build_autograder(*absolute)
    except (BuildError, ConfigError, OSError) as exc:
        print(f"cnngrade gradescope: {exc}", file=sys.stderr)
        return 2
    if built.dataset is not None:
        print(f"cnngrade gradescope: the zip holds the lab's dataset '{built.dataset.name}', from "
              f"{built.dataset.folder} ({built.dataset.origin}).")
    print(f"cnngrade gradescope: {built.path} ({built.path.stat().st_size / 1e6:.1f} MB): upload it as the "
          f"assignment's autograder (Ubuntu base image); its setup.sh installs torch {built.pins.torch} from "
          "PyTorch's CPU wheel index, and the rest at the versions of constraints.txt.")
    return 0
