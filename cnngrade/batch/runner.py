"""``cnngrade batch``: grade every student of a submissions folder, ``workers`` at a time.

For each student of the shard (:mod:`.shards`): stage the entry (:mod:`.intake`; a submission that cannot
be graded becomes a ``rejected`` row with the reason), then grade the staged copies ``per_process`` at a
time with ``cnngrade grade`` (a process forked from a warm one, :mod:`.warm`; each submission runs in a
sandbox of its own, unless ``in_process``; the runs share the CPUs' threads), stopped after ``timeout``
seconds per student. Students a run did not grade (it ran past its time, or crashed) are graded again
one by one, so one student's hang costs no one else their row. The score is read from the results.json
the grading process wrote (the student's code runs in the sandbox, which sees only its staged copy);
each student's folder is written whole (:func:`.gradebook.write_student`), and ``gradebook.csv``
rewritten after each student.

A re-run skips a student whose record has the same fingerprint: sha256 of the entry's bytes, of the
grader's code (cnngrade, graders/), of the lab (lab.toml, reference/) and of the grading options;
``force`` grades everyone again. Only the student's own outcomes are kept (``graded``, ``rejected``,
``timeout``): an ``error`` row (an error of cnngrade's or of the machine) is graded again by the next run,
and its feedback tells the student it is not theirs. ``batch.json`` says ``"finished": true`` once every
student of the shard has a row, and lists the ``error`` rows (``cnngrade merge`` refuses a shard without
the one or with the other). A student's crash, hang or attack ends in that student's row: each
grading is its own process group, killed whole on its timeout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cnngrade import threads
from cnngrade.batch import atomic
from cnngrade.batch.feedback import error_markdown, feedback_markdown, rejected_markdown
from cnngrade.batch.gradebook import FINAL, Record, read_records, write_gradebook, write_student
from cnngrade.batch.intake import SKIPPED_DIRS, Entry, Limits, Rejected, list_entries, stage
from cnngrade.batch.shards import WHOLE, Shard
from cnngrade.grader.invocation import Runner
from cnngrade.grader.submissions import NAME_FIELD, Submissions
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
    #: students graded by one grading process (each in a sandbox of its own)
    per_process: int = 4
    #: torch threads per grading run (and per sandboxed child); None: :meth:`run_threads` decides
    threads: int | None = None

    @property
    def lab_toml(self) -> Path:
        return self.lab / "lab.toml" if self.lab else self.graders / "lab.toml"

    @property
    def backend(self) -> str:
        return "in-process" if self.in_process else "isolated"

    def run_threads(self) -> int:
        """torch threads per grading run: ``threads``, else ``$OMP_NUM_THREADS``, else the CPUs shared
        among the workers (:func:`cnngrade.threads.share`: runs side by side, each with every CPU, would
        keep each other's OpenMP threads spinning)."""
        if self.threads:
            return self.threads
        return threads.default_threads() if "OMP_NUM_THREADS" in os.environ else threads.share(self.workers)


@dataclass
class Summary:
    """What a batch did: how many students of each outcome, and every record of its shard."""

    counts: dict[str, int] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Record]:
        """The rows that are errors of cnngrade's (graded again by the next run)."""
        return [record for record in self.records.values() if record.status not in FINAL]


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


def check_data(settings: BatchSettings) -> None:
    """Raise :class:`BatchError` where the lab's accuracy checks cannot be graded here: their dataset
    (``--dataset`` among the pytest options, else the lab's) is not on this machine, or the lab cannot
    grade on it. A student's own run leaves such a check out; a class is not graded without it."""
    from cnngrade.data import DataError, DatasetMismatch
    from cnngrade.data.lab_data import grading_dataset

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--dataset")
    options.add_argument("--data-root")
    asked, _ = options.parse_known_args(list(settings.pytest_args))
    lab = LabConfig.load(settings.lab_toml)
    try:
        chosen = grading_dataset(lab, asked.dataset, asked.data_root)
        if chosen is not None and chosen.own is not None:
            chosen.load()  # the lab's own file: its sha256 and content, before anyone is graded
    except DatasetMismatch as exc:  # the data given is not the data named
        raise BatchError(str(exc)) from None
    except DataError as exc:
        raise BatchError(f"{lab.path}: {exc}") from None
    if chosen is not None and chosen.missing is not None:
        raise BatchError(f"the lab's accuracy checks need {chosen.title} ([accuracy] dataset of {lab.path}), which "
                         f"is not on this machine: no student is graded without it. To provide it, {chosen.missing} "
                         "(after --, the options of `cnngrade grade`).")


def _files(path: Path) -> Iterator[Path]:
    """The files of an entry, in a fixed order, as :mod:`.intake` sees them."""
    if not path.is_dir() or path.is_symlink():
        yield path
        return
    for top, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        yield from (Path(top, name) for name in sorted(files))


def _hash_tree(digest: hashlib._Hash, root: Path, paths: Iterable[Path]) -> None:
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
    _hash_tree(digest, package, sorted(package.rglob("*.py")))
    _hash_tree(digest, settings.graders, sorted(settings.graders.glob("*.py")))
    lab_toml = settings.lab_toml
    _hash_tree(digest, lab_toml.parent, [lab_toml])
    reference = (settings.lab or settings.graders.parent) / "reference"
    if reference.is_dir():
        _hash_tree(digest, reference, sorted(reference.glob("*.py")))
    return digest.hexdigest()


def entry_fingerprint(entry: Entry, graders: str) -> str:
    """sha256 of the entry's files (paths and bytes) and of ``graders`` (:func:`grader_fingerprint`)."""
    digest = hashlib.sha256(graders.encode())
    _hash_tree(digest, entry.path, _files(entry.path))
    return digest.hexdigest()


def _tail(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TAIL else "..." + text[-TAIL:]


@dataclass
class _Student:
    """A student on their way through the batch: their record so far, and once staged, what to grade."""

    entry: Entry
    record: Record
    staging: Path
    path: Path | None = None
    results: dict = field(default_factory=dict)


class _Batch:
    """One run of a batch: the settings, the runner, the records so far (guarded by a lock)."""

    def __init__(self, settings: BatchSettings, runner: Runner, parts, records: dict[str, Record]) -> None:
        self.settings = settings
        self.runner = runner
        self.parts = parts
        self.records = records
        self.lock = threading.Lock()

    def prepare(self, entry: Entry, fingerprint: str) -> _Student:
        """Stage one student's entry; a rejected one's record says why."""
        settings = self.settings
        staging = atomic.new_dir(settings.out)
        record = Record(entry.name, entry.slug, entry.path.name, "error", fingerprint, backend=settings.backend,
                        reason="grading stopped before it ended (an error of cnngrade's)")
        student = _Student(entry, record, staging)
        started = time.monotonic()
        (staging / entry.slug).mkdir()
        try:
            student.path = stage(entry, staging / entry.slug, self.parts, settings.limits)
        except Rejected as exc:
            record.status, record.reason, record.backend = "rejected", str(exc), ""
        except OSError as exc:  # reading the entry failed (a file removed meanwhile, permissions)
            record.status, record.reason = "error", f"{entry.path.name} could not be read ({exc})"
        record.seconds = time.monotonic() - started
        return student

    def grade(self, students: list[_Student]) -> None:
        """Grade staged ``students`` in one ``cnngrade grade`` run (each in a sandbox of its own); those it
        did not grade (it ran past its time, or crashed) are graded again one by one."""
        settings = self.settings
        scratch = atomic.new_dir(settings.out)
        try:
            pattern = scratch / f"{NAME_FIELD}.json"
            names = Submissions.from_options([s.path for s in students], str(pattern)).names
            command = [sys.executable, "-m", "cnngrade", "grade", *(str(s.path) for s in students),
                       "--graders", str(settings.graders), "--results-json", str(pattern),
                       *(["--lab", str(settings.lab)] if settings.lab else []),
                       *(["--in-process"] if settings.in_process else []), "--", *settings.pytest_args]
            timeout = settings.timeout * len(students)
            try:
                env = {**os.environ, **threads.thread_env(settings.run_threads())}
                completed = self.runner(command, cwd=scratch, env=env, timeout=timeout)
            except subprocess.TimeoutExpired:
                completed = None
            for student, name in zip(students, names, strict=True):
                self._read(student, Path(str(pattern).replace(NAME_FIELD, name)), completed)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        ungraded = [s for s in students if s.record.status != "graded"]
        if len(students) > 1 and ungraded:
            for student in ungraded:
                self.grade([student])

    def _read(self, student: _Student, target: Path, completed: subprocess.CompletedProcess | None) -> None:
        """Fill ``student``'s record from the results.json its grading wrote (or say why there is none)."""
        record = student.record
        if completed is None:
            record.status = "timeout"
            record.reason = (f"grading took more than {self.settings.timeout:g} s and was stopped (the machine may "
                             "be busy, or the submission hangs): grade it again with a larger --timeout")
            return
        try:
            results = json.loads(target.read_text(encoding="utf-8"))
            checks = {test["number"]: float(test["score"]) for test in results["tests"]}
            score, max_score = float(results["score"]), float(results["max_score"])
        except (OSError, ValueError, KeyError, TypeError):
            record.status = "error"
            record.reason = (f"grading ended with exit status {completed.returncode} and no score: "
                             f"{_tail(completed.stderr or completed.stdout) or 'no output'}")
            return
        record.status, record.score, record.max_score, record.checks = "graded", score, max_score, checks
        record.reason, record.seconds = "", float(results.get("execution_time", 0.0))
        record.backend = results.get("extra_data", {}).get("backend", self.settings.backend)
        student.results = results

    def finish(self, student: _Student) -> Record:
        """Write the student's folder whole; drop their staging."""
        record = student.record
        if record.status == "graded":
            results, feedback = student.results, feedback_markdown(record.student, student.results)
        else:
            results = {"score": 0.0, "output": record.reason, "tests": []}
            feedback = (rejected_markdown if record.status in FINAL else error_markdown)(record.student, record.reason)
        results["execution_time"] = round(record.seconds, 3)
        write_student(self.settings.out, record, results, feedback)
        shutil.rmtree(student.staging, ignore_errors=True)
        return record


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
    parts = LabConfig.load(settings.lab_toml).validate().parts  # a lab that lies grades no one
    check_data(settings)
    started = time.monotonic()
    settings.out.mkdir(parents=True, exist_ok=True)
    atomic.sweep(settings.out)
    entries = list_entries(settings.submissions)
    mine = [entry for entry in entries if settings.shard.holds(entry.name)]
    _write_manifest(settings, entries, mine, finished=False)
    graders = grader_fingerprint(settings)
    existing = read_records(settings.out)
    batch = _Batch(settings, runner or _fresh, parts, {})
    summary = Summary()
    todo = []
    for entry in mine:
        fingerprint = entry_fingerprint(entry, graders)
        old = existing.get(entry.slug)
        if old is not None and old.fingerprint == fingerprint and old.status in FINAL and not settings.force:
            batch.records[entry.slug] = old
            summary.counts["skipped"] = summary.counts.get("skipped", 0) + 1
            if progress is not None:
                progress(old, len(batch.records), len(mine), True)
        else:
            todo.append((entry, fingerprint))
    write_gradebook(settings.out, batch.records.values())

    def done(student: _Student) -> None:
        record = batch.finish(student)
        with batch.lock:
            batch.records[record.slug] = record
            summary.counts[record.status] = summary.counts.get(record.status, 0) + 1
            write_gradebook(settings.out, batch.records.values())
            if progress is not None:
                progress(record, len(batch.records), len(mine), False)

    def grade(students: list[_Student]) -> None:
        try:
            batch.grade(students)
        finally:
            for student in students:
                done(student)

    staged = []
    for entry, fingerprint in todo:
        student = batch.prepare(entry, fingerprint)
        if student.path is None:
            done(student)
        else:
            staged.append(student)
    size = max(1, settings.per_process)
    with ThreadPoolExecutor(max(1, settings.workers), thread_name_prefix="cnngrade-batch") as pool:
        chunks = [staged[i:i + size] for i in range(0, len(staged), size)]
        for future in [pool.submit(grade, chunk) for chunk in chunks]:
            future.result()
    summary.records = dict(batch.records)
    summary.seconds = time.monotonic() - started
    _write_manifest(settings, entries, mine, finished=True, errors=[record.student for record in summary.errors])
    return summary


def _write_manifest(settings: BatchSettings, entries: list[Entry], mine: list[Entry], *, finished: bool,
                    errors: list[str] | None = None) -> None:
    """``batch.json``: the shard, the class, the shard's students, the submissions folder; ``finished``
    once every student of the shard has a row, and ``errors``: the students whose row is an error."""
    manifest = {"shard": [settings.shard.index, settings.shard.count], "class": [e.name for e in entries],
                "students": [e.name for e in mine], "submissions": str(settings.submissions.resolve()),
                "finished": finished, "errors": errors or []}
    atomic.write_text(settings.out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
