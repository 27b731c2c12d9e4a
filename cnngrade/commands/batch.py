"""``cnngrade batch SUBMISSIONS --out DIR``: grade a whole class (see :mod:`cnngrade.batch.runner`).

Progress: a bar (done, failed, elapsed, ETA) on a terminal, else one line per student.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from cnngrade.commands import default_dir
from cnngrade.commands.arguments import user_path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cnngrade batch", usage="cnngrade batch SUBMISSIONS --out DIR [options] [-- PYTEST_OPTIONS]",
        description="Grade a class: one entry of SUBMISSIONS per student (a folder, a .py, a .ipynb or a .zip "
        "of those, as Gradescope's export and GitHub Classroom's clone lay them out). Writes DIR/<student>/"
        "results.json, feedback.md and grading.json, and DIR/gradebook.csv. Re-running skips the students "
        "already graded with the same submission, graders and lab; a student whose grading failed through an "
        "error of cnngrade's or of the machine is graded again, and the batch exits 1 while one remains.")
    p.add_argument("submissions", type=user_path, metavar="SUBMISSIONS")
    p.add_argument("--out", type=user_path, required=True, metavar="DIR",
                   help="the output folder (not inside SUBMISSIONS)")
    p.add_argument("--workers", type=int, default=default_workers(), metavar="N",
                   help=f"grading processes at a time (default: the CPUs, at most {MAX_DEFAULT_WORKERS}: "
                   f"{default_workers()} here)")
    p.add_argument("--shard", metavar="K/N", help="grade shard K of N (by a hash of each name); default: from "
                   "Slurm, Kubernetes or GitLab variables when set, else the whole class")
    p.add_argument("--force", action="store_true", help="grade every student again, even those already graded")
    p.add_argument("--timeout", type=float, default=1800, metavar="S",
                   help="stop a student's grading after S seconds of wall-clock time (default 1800)")
    p.add_argument("--per-process", type=int, default=4, metavar="K",
                   help="students graded by one grading process, each in a sandbox of its own (default 4; 1 "
                   "grades each alone)")
    p.add_argument("--threads", type=int, metavar="T",
                   help="torch threads per grading process (default: $OMP_NUM_THREADS, else the CPUs divided "
                   "among the workers)")
    p.add_argument("--lab", type=user_path, metavar="DIR", help="grade another lab (DIR/lab.toml, DIR/reference)")
    p.add_argument("--graders", type=user_path, default=default_dir("graders"), help="the grader suite")
    p.add_argument("--in-process", action="store_true",
                   help="run each submission's code in its grading process, unsandboxed (trusted code only)")
    return p


#: the most grading processes ``--workers`` starts by default (each holds torch: about 0.5 GB)
MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """``--workers``' default: one grading process per CPU, at most :data:`MAX_DEFAULT_WORKERS`."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


class Progress:
    """A tqdm bar on a terminal (done / failed, elapsed, ETA), else a line per student on stderr."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.failed = 0
        self.bar = None

    def __call__(self, record, done: int, total: int, skipped: bool) -> None:
        self.failed += record.status != "graded"
        if self.bar is None and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="student", file=sys.stderr, dynamic_ncols=True)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"failed {self.failed}", refresh=True)
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (total - done) if done else 0.0
        outcome = (f"{record.score:g}/{record.max_score:g}" if record.status == "graded" else record.status)
        note = " (already graded)" if skipped else f" in {record.seconds:.1f} s"
        print(f"[{done}/{total}] {record.student}: {outcome}{note}; failed {self.failed}, elapsed "
              f"{_clock(elapsed)}, ETA {_clock(eta)}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def absolute_data_root(pytest_args: list[str]) -> tuple[str, ...]:
    """``pytest_args`` with the folder of ``--data-root`` made absolute: each grading runs in a folder of
    its own, where the user's relative path would name nothing."""
    resolved = list(pytest_args)
    for i, arg in enumerate(resolved):
        if arg.startswith("--data-root="):
            resolved[i] = "--data-root=" + str(Path(arg.split("=", 1)[1]).expanduser().absolute())
        elif arg == "--data-root" and i + 1 < len(resolved):
            resolved[i + 1] = str(Path(resolved[i + 1]).expanduser().absolute())
    return tuple(resolved)


def main(argv: list[str]) -> int:
    pytest_args: list[str] = []
    if "--" in argv:
        argv, pytest_args = argv[: argv.index("--")], argv[argv.index("--") + 1:]
    args = build_parser().parse_args(argv)
    from cnngrade.batch.shards import WHOLE, ShardError, parse_shard, shard_from_env

    try:  # before the runner's imports (torch): a refused shard is refused at once
        shard = parse_shard(args.shard) if args.shard else shard_from_env(os.environ) or WHOLE
    except ShardError as exc:
        print(f"cnngrade batch: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1 or args.per_process < 1 or (args.threads is not None and args.threads < 1) or args.timeout <= 0:
        print("cnngrade batch: --workers, --per-process and --threads must be at least 1, --timeout more than 0",
              file=sys.stderr)
        return 2
    from cnngrade.batch.runner import BatchError, BatchSettings, run_batch
    from cnngrade.lab.config import ConfigError, LabConfig
    lab = args.lab.resolve() if args.lab else None
    settings = BatchSettings(args.submissions, args.out, args.graders.resolve(), lab, args.workers, shard, args.force,
                             args.timeout, args.in_process, absolute_data_root(pytest_args),
                             per_process=args.per_process, threads=args.threads)
    if not args.in_process:
        from cnngrade.submission.isolated import sandbox

        try:
            sandbox.detect()
        except sandbox.SandboxUnavailable as exc:
            print(f"cnngrade batch: {exc}", file=sys.stderr)
            return 2
    from cnngrade.batch.runner import check_data, check_folders
    from cnngrade.batch.warm import WarmRunner

    try:
        check_folders(settings)
        LabConfig.load(settings.lab_toml).validate()  # a lab that lies grades no one
        check_data(settings)  # nor one whose data is not here
    except (BatchError, ConfigError) as exc:
        print(f"cnngrade batch: {exc}", file=sys.stderr)
        return 2
    if shard is not WHOLE:
        print(f"cnngrade batch: shard {shard} (from {shard.source})", file=sys.stderr)
    progress = Progress()
    try:
        with WarmRunner() as warm:
            summary = run_batch(settings, warm.run, progress)
    except (BatchError, ConfigError) as exc:
        print(f"cnngrade batch: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items())) or "no students"
    print(f"cnngrade batch: {len(summary.records)} students ({counts}) in {summary.seconds:.0f} s; "
          f"gradebook: {settings.out / 'gradebook.csv'}")
    if summary.errors:
        print(f"cnngrade batch: {len(summary.errors)} student(s) not graded because of an error of cnngrade's or of "
              "this machine (not theirs; their feedback says so):", file=sys.stderr)
        for record in summary.errors:
            print(f"  - {record.student}: {record.reason}", file=sys.stderr)
        print("Run the same command again to grade them (graded students are kept).", file=sys.stderr)
        return 1
    return 0
