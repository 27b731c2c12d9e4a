"""What a batch keeps per student, and the class's gradebook built from it.

Each student's folder ``DIR/<slug>/`` holds ``results.json`` (Gradescope's schema, written by the grading
process, or one that says why the submission could not be graded), ``feedback.md`` (what the student
reads) and ``grading.json`` (a :class:`Record`: status, score, each check's points, seconds, backend, and
the fingerprint of what was graded with what). The folder is built aside and renamed into place
(:mod:`cnngrade.batch.atomic`): it is whole or absent.

``gradebook.csv`` has one row per student, sorted by name: ``student, score, max_score``, one column per
check (its points), then ``status, seconds, backend, reason``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnngrade.batch import atomic

__all__ = ["FINAL", "GRADEBOOK", "RECORD", "Record", "STATUSES", "gradebook_csv", "read_records", "write_student"]

RECORD = "grading.json"
GRADEBOOK = "gradebook.csv"
#: graded: the graders ran (whatever the score); rejected: the submission could not be graded as
#: submitted (:mod:`.intake`); timeout: grading ran past ``--timeout``; error: grading itself failed
#: (cnngrade's fault, or the machine's: never final, graded again by the next run)
STATUSES = ("graded", "rejected", "timeout", "error")
#: the outcomes that are the student's, kept by a re-run of the batch
FINAL = ("graded", "rejected", "timeout")
FIXED_COLUMNS = ("student", "score", "max_score")
TRAILING_COLUMNS = ("status", "seconds", "backend", "reason")


@dataclass
class Record:
    """One student's outcome (``grading.json``)."""

    student: str
    slug: str
    entry: str
    status: str
    fingerprint: str
    score: float = 0.0
    max_score: float = 0.0
    #: check name -> points scored, in the graders' order
    checks: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    backend: str = ""
    reason: str = ""

    def row(self) -> dict[str, str]:
        """The gradebook's columns for this student (points as ``12`` or ``2.5``)."""
        return {"student": self.student, "score": _number(self.score),
                "max_score": _number(self.max_score) if self.status == "graded" else "",
                **{name: _number(points) for name, points in self.checks.items()},
                "status": self.status, "seconds": f"{self.seconds:.1f}", "backend": self.backend,
                "reason": self.reason}

    @classmethod
    def from_json(cls, text: str) -> Record:
        data = json.loads(text)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def _number(value: float) -> str:
    return f"{value:g}"


def write_student(out: Path, record: Record, results: dict, feedback: str) -> Path:
    """Write the student's folder ``out/<slug>/`` whole (built aside, then renamed into place)."""
    built = atomic.new_dir(out)
    (built / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (built / "feedback.md").write_text(feedback, encoding="utf-8")
    (built / RECORD).write_text(json.dumps(asdict(record), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return atomic.replace_dir(built, out / record.slug)


def read_records(out: Path) -> dict[str, Record]:
    """The records of the students graded in ``out``, by slug (folders being written are not read)."""
    records = {}
    for path in sorted(out.glob(f"*/{RECORD}")):
        if path.parent.name.startswith(atomic.PARTIAL_PREFIX):
            continue
        record = Record.from_json(path.read_text(encoding="utf-8"))
        records[record.slug] = record
    return records


def gradebook_csv(records: Iterable[Record]) -> str:
    """The gradebook (see the module's docstring) as CSV text; check columns in their first order seen."""
    ordered = sorted(records, key=lambda r: r.student)
    checks: list[str] = []
    for record in ordered:
        checks += [name for name in record.checks if name not in checks]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [*FIXED_COLUMNS, *checks, *TRAILING_COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(record.row() for record in ordered)
    return buffer.getvalue()


def write_gradebook(out: Path, records: Iterable[Record]) -> Path:
    """``out/gradebook.csv``, atomically."""
    return atomic.write_text(out / GRADEBOOK, gradebook_csv(records))
