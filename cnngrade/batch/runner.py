"""``cnngrade batch``: grade every student of a submissions folder, ``workers`` at a time.

For each student of the shard (:mod:`.shards`): stage the entry (:mod:`.intake`; a submission that cannot
be graded becomes a ``rejected`` row with the reason), then grade the staged copy with ``cnngrade grade``
in a process of its own (forked from a warm process, :mod:`.warm`), sandboxed unless ``in_process``,
stopped after ``timeout`` seconds. The score is read from the results.json that grading process wrote
(the student's code runs in the sandbox, which sees only the staged copy); the student's folder is
written whole (:func:`.gradebook.write_student`), and ``gradebook.csv`` rewritten after each student.

A re-run skips a student whose record has the same fingerprint: sha256 of the entry's bytes, of the
grader's code (cnngrade, graders/), of the lab (lab.toml, reference/) and of the grading options;
``force`` grades everyone again. A student's crash, hang or attack ends in that student's row: each
grading is its own process group, killed whole on its timeout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cnngrade.batch import atomic
from cnngrade.batch.feedback import feedback_markdown, rejected_markdown
from cnngrade.batch.gradebook import Record, read_records, write_gradebook, write_student
from cnngrade.batch.intake import SKIPPED_DIRS, Entry, Limits, Rejected, list_entries, stage
from cnngrade.batch.shards import WHOLE, Shard
from cnngrade.lab.config import LabConfig

__all__ = ["BatchError", "BatchSettings", "Summary", "run_batch"]

#: the file a batch's output folder records its class and shard in (``cnngrade merge`` reads it)
MANIFEST = "batch.json"
#: how much of a failed grading's output a row keeps
TAIL = 600


class BatchError(Exception):
    """The batch cannot start (a folder that does not exist, ``--out`` inside the submissions, ...)."""


@dataclass(frozen=True)
class BatchSettings:
    """What ``cnngrade batch`` was asked: see its ``--help``."""

    submissions: Path
    out: Path
    graders: Path
    lab: Path | None = None
    workers: int = 1
    shard: Shard = WHOLE
    force: bool = False
    timeout: float = 1800.0
    in_process: bool = False
    pytest_args: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)

    @property
    def lab_toml(self) -> Path:
        return self.lab / "lab.toml" if self.lab else self.graders / "lab.toml"

    @property
    def backend(self) -> str:
        return "in-process" if self.in_process else "isolated"


@dataclass
class Summary:
    """What a batch did: how many students of each outcome, and every record of its shard."""

    counts: dict[str, int] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    seconds: float = 0.0


Runner = Callable[..., subprocess.CompletedProcess]


def check_folders(settings: BatchSettings) -> None:
    """Raise :class:`BatchError` for a submissions folder that does not exist, or an output folder in it."""
    submissions, out = settings.submissions.resolve(), settings.out.resolve()
    if not submissions.is_dir():
        raise BatchError(f"{settings.submissions}: no such folder" if not submissions.exists()
                         else f"{settings.submissions} is not a folder: SUBMISSIONS holds one entry per student")
    if out == submissions or submissions in out.parents:
        raise BatchError(f"--out {settings.out} is inside {settings.submissions}: it would be read as a student's "
                         "submission; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {settings.out} exists and is not a folder")


def _files(path: Path) -> Iterator[Path]:
    """The files of an entry, in a fixed order, as :mod:`.intake` sees them."""
    if not path.is_dir() or path.is_symlink():
        yield path
        return
    for top, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        yield from (Path(top, name) for name in sorted(files))


def _hash_tree(digest: hashlib._Hash, root: Path, paths: Iterator[Path]) -> None:
    for path in paths:
        name = (path.relative_to(root).as_posix() if path != root else path.name).encode("utf-8")
        digest.update(len(name).to_bytes(4, "big") + name)
        data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes() if path.is_file() else b""
        digest.update(len(data).to_bytes(8, "big") + data)


def grader_fingerprint(settings: BatchSettings) -> str:
    """sha256 of what grading depends on besides the submission: cnngrade's and the graders' code, the
    lab's lab.toml and reference, and the options."""
    import cnngrade

    digest = hashlib.sha256(f"{cnngrade.__version__}\0{settings.backend}\0{settings.pytest_args!r}".encode())
    package = Path(cnngrade.__file__).parent
    _hash_tree(digest, package, iter(sorted(package.rglob("*.py"))))
    _hash_tree(digest, settings.graders, iter(sorted(settings.graders.glob("*.py"))))
    lab_toml = settings.lab_toml
    _hash_tree(digest, lab_toml.parent, iter([lab_toml]))
    reference = (settings.lab or settings.graders.parent) / "reference"
    if reference.is_dir():
        _hash_tree(digest, reference, iter(sorted(reference.glob("*.py"))))
    return digest.hexdigest()


def entry_fingerprint(entry: Entry, graders: str) -> str:
    """sha256 of the entry's files (paths and bytes) and of ``graders`` (:func:`grader_fingerprint`)."""
    digest = hashlib.sha256(graders.encode())
    _hash_tree(digest, entry.path, _files(entry.path))
    return digest.hexdigest()


def _tail(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TAIL else "..." + text[-TAIL:]


class _Batch:
    """One run of a batch: the settings, the runner, the records so far (guarded by a lock)."""

    def __init__(self, settings: BatchSettings, runner: Runner, parts, records: dict[str, Record]) -> None:
        self.settings = settings
        self.runner = runner
        self.parts = parts
        self.records = records
        self.lock = threading.Lock()

    def grade(self, entry: Entry, fingerprint: str) -> Record:
        """Stage, grade and record one student; every outcome ends in a written record."""
        settings, started = self.settings, time.monotonic()
        staging = atomic.new_dir(settings.out)
        record = Record(entry.name, entry.slug, entry.path.name, "error", fingerprint, backend=settings.backend,
                        reason="grading stopped before it ended (an error of cnngrade's)")
        results: dict = {}
        try:
            (staging / "submission").mkdir()
            try:
                staged = stage(entry, staging / "submission", self.parts, settings.limits)
            except Rejected as exc:
                record.status, record.reason, record.backend = "rejected", str(exc), ""
            else:
                results = self._run(staged.path, staging, record)
        except OSError as exc:  # reading the entry failed (a file removed meanwhile, permissions)
            record.status, record.reason = "error", f"{entry.path.name} could not be read ({exc})"
        finally:
            record.seconds = time.monotonic() - started
            if record.status == "graded":
                feedback = feedback_markdown(entry.name, results)
            else:
                results = {"score": 0.0, "output": record.reason, "tests": []}
                feedback = rejected_markdown(entry.name, record.reason)
            results["execution_time"] = round(record.seconds, 3)
            write_student(settings.out, record, results, feedback)
            shutil.rmtree(staging, ignore_errors=True)
        return record

    def _run(self, path: Path, staging: Path, record: Record) -> dict:
        """Grade ``path`` with ``cnngrade grade``; fill ``record``; the results.json it wrote."""
        settings = self.settings
        target = staging / "results.json"
        command = [sys.executable, "-m", "cnngrade", "grade", str(path), "--graders", str(settings.graders),
                   "--results-json", str(target), *(["--lab", str(settings.lab)] if settings.lab else []),
                   *(["--in-process"] if settings.in_process else []), "--", *settings.pytest_args]
        try:
            completed = self.runner(command, cwd=staging, env=dict(os.environ), timeout=settings.timeout)
        except subprocess.TimeoutExpired:
            record.status = "timeout"
            record.reason = (f"grading took more than {settings.timeout:g} s and was stopped (the machine may be "
                             "busy, or the submission hangs): grade it again with a larger --timeout")
            return {}
        try:
            results = json.loads(target.read_text(encoding="utf-8"))
            checks = {test["number"]: float(test["score"]) for test in results["tests"]}
            score, max_score = float(results["score"]), float(results["max_score"])
        except (OSError, ValueError, KeyError, TypeError):
            record.status = "error"
            record.reason = (f"grading ended with exit status {completed.returncode} and no score: "
                             f"{_tail(completed.stderr or completed.stdout) or 'no output'}")
            return {}
        record.status, record.score, record.max_score, record.checks = "graded", score, max_score, checks
        record.reason = ""
        record.backend = results.get("extra_data", {}).get("backend", settings.backend)
        return results


def _fresh(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """A grading run as a fresh process (a process group of its own, killed whole on the timeout)."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def run_batch(settings: BatchSettings, runner: Runner | None = None,
              progress: Callable[[Record, int, int, bool], None] | None = None) -> Summary:
    """Grade the shard's students (see the module's docstring). ``runner`` runs one grading command
    (:meth:`.warm.WarmRunner.run`'s signature; default a fresh process); ``progress(record, done, total,
    skipped)`` is called after each student."""
    check_folders(settings)
    started = time.monotonic()
    settings.out.mkdir(parents=True, exist_ok=True)
    atomic.sweep(settings.out)
    parts = LabConfig.load(settings.lab_toml).parts
    entries = list_entries(settings.submissions)
    mine = [entry for entry in entries if settings.shard.holds(entry.name)]
    _write_manifest(settings, entries, mine)
    graders = grader_fingerprint(settings)
    existing = read_records(settings.out)
    batch = _Batch(settings, runner or _fresh, parts, {})
    summary = Summary()
    todo = []
    for entry in mine:
        fingerprint = entry_fingerprint(entry, graders)
        old = existing.get(entry.slug)
        if old is not None and old.fingerprint == fingerprint and not settings.force:
            batch.records[entry.slug] = old
            summary.counts["skipped"] = summary.counts.get("skipped", 0) + 1
            if progress is not None:
                progress(old, len(batch.records), len(mine), True)
        else:
            todo.append((entry, fingerprint))
    write_gradebook(settings.out, batch.records.values())

    def one(item: tuple[Entry, str]) -> None:
        record = batch.grade(*item)
        with batch.lock:
            batch.records[record.slug] = record
            summary.counts[record.status] = summary.counts.get(record.status, 0) + 1
            write_gradebook(settings.out, batch.records.values())
            if progress is not None:
                progress(record, len(batch.records), len(mine), False)

    with ThreadPoolExecutor(max(1, settings.workers), thread_name_prefix="cnngrade-batch") as pool:
        for future in [pool.submit(one, item) for item in todo]:
            future.result()
    summary.records = dict(batch.records)
    summary.seconds = time.monotonic() - started
    return summary


def _write_manifest(settings: BatchSettings, entries: list[Entry], mine: list[Entry]) -> None:
    manifest = {"shard": [settings.shard.index, settings.shard.count], "class": [e.name for e in entries],
                "students": [e.name for e in mine], "submissions": str(settings.submissions.resolve())}
    atomic.write_text(settings.out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
