"""``cnngrade merge DIR... --out MERGED``: join the output folders of a class's shards
(:mod:`cnngrade.batch.merge`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnngrade merge", description="Join the output folders of `cnngrade batch "
                                "--shard K/N` runs into one gradebook; refuses overlapping, missing or unfinished "
                                "shards (a batch that did not end, or rows in `error`), saying which and what to run.")
    p.add_argument("folders", type=Path, nargs="+", metavar="DIR", help="the shards' output folders")
    p.add_argument("--out", type=Path, required=True, metavar="MERGED", help="the merged folder")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from cnngrade.batch.merge import MergeError, merge

    try:
        records = merge([folder.resolve() for folder in args.folders], args.out.resolve())
    except MergeError as exc:
        print(f"cnngrade merge: {exc}", file=sys.stderr)
        return 1
    print(f"cnngrade merge: {len(records)} students from {len(args.folders)} shards; gradebook: "
          f"{args.out / 'gradebook.csv'}")
    return 0
