"""``cnngrade report DIR``: the class at a glance, one self-contained ``DIR/report.html``.

Built from a batch's output folder (its records and results.json files): the score histogram, each
check's pass rate (hardest first), the most common failure messages, the slowest submissions, the
students that were not graded and why, one row per student, and a section per student with the checks
they failed, their messages, and the confusion matrix of the "learns" check (rows: true class,
columns: predicted). Plots are matplotlib PNGs embedded as ``data:`` URIs and the page is a Jinja2
template (``templates/report.html.j2``) with autoescaping: it opens without a network and shows a
student's name or message as text, whatever it contains.
"""

from __future__ import annotations

import base64
import io
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cnngrade.batch import atomic
from cnngrade.batch.gradebook import Record, read_records

__all__ = ["REPORT", "ReportError", "write_report"]

REPORT = "report.html"
#: the check whose extra_data holds the confusion matrix shown per student
LEARNS = "test_learns"
#: how many failure messages and slowest submissions the page lists
TOP = 10
#: characters of a failure message the table of common messages shows
MESSAGE = 240


class ReportError(Exception):
    """A folder without a batch's records."""


@dataclass
class Student:
    """What the page shows of one student."""

    record: Record
    #: the checks of its results.json (none where it was not graded)
    tests: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    confusion: list[list[int]] | None = None
    classes: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        r = self.record
        return 100 * r.score / r.max_score if r.status == "graded" and r.max_score else None

    def shade(self, value: int, row: list[int]) -> float:
        """A confusion cell's share of its row (its true class), 0..1, for its background."""
        return value / max(sum(row), 1)


def _students(out: Path) -> list[Student]:
    students = []
    for record in sorted(read_records(out).values(), key=lambda r: r.student):
        student = Student(record)
        results_path = out / record.slug / "results.json"
        if record.status == "graded" and results_path.is_file():
            student.tests = json.loads(results_path.read_text(encoding="utf-8")).get("tests", [])
            for test in student.tests:
                if test.get("status") != "passed":
                    student.failed.append(test)
                data = test.get("extra_data", {})
                if test.get("number") == LEARNS and "confusion" in data:
                    student.confusion, student.classes = data["confusion"], data.get("classes", [])
        students.append(student)
    return students


def _png(figure) -> str:  # noqa: ANN001 - a matplotlib Figure
    """The figure as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _histogram(percents: list[float]) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.8))
    axes = figure.subplots()
    axes.hist(percents, bins=[i * 10 for i in range(11)], color="#3b73b9", edgecolor="white")
    axes.set_xlabel("score (% of the points the student's checks were worth)")
    axes.set_ylabel("students")
    axes.set_xlim(0, 100)
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def _pass_rates(rates: list[tuple[str, float, int]]) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 0.35 * len(rates) + 0.9))
    axes = figure.subplots()
    names = [name for name, _, _ in rates][::-1]
    axes.barh(names, [100 * rate for _, rate, _ in rates][::-1], color="#5a9e6f")
    axes.set_xlim(0, 100)
    axes.set_xlabel("students who passed (%)")
    return _png(figure)


def _context(out: Path, students: list[Student]) -> dict:
    graded = [s for s in students if s.record.status == "graded"]
    percents = [s.percent for s in graded if s.percent is not None]
    passed: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    titles: dict[str, str] = {}
    messages: dict[str, tuple[set[str], set[str]]] = {}  # message -> (its students, its checks' titles)
    for student in graded:
        for test in student.tests:
            name = test["number"]
            titles.setdefault(name, test["name"])
            seen[name] += 1
            passed[name] += test.get("status") == "passed"
            if test.get("status") != "passed":
                first = " ".join((test.get("output") or "(no message)").split())
                first = first if len(first) <= MESSAGE else first[:MESSAGE - 3].rstrip() + "..."
                failed_by, failed_in = messages.setdefault(first, (set(), set()))
                failed_by.add(student.record.slug)
                failed_in.add(test["name"])
    rates = sorted(((titles[n], passed[n] / seen[n], seen[n]) for n in seen), key=lambda item: (item[1], item[0]))
    statuses = Counter(s.record.status for s in students)
    return {
        "students": students,
        "counts": dict(sorted(statuses.items())),
        "mean": statistics.mean(percents) if percents else None,
        "median": statistics.median(percents) if percents else None,
        "histogram": _histogram(percents) if percents else None,
        "rates": rates,
        "rates_plot": _pass_rates(rates) if rates else None,
        "messages": sorted(((len(failed_by), sorted(failed_in), message)
                            for message, (failed_by, failed_in) in messages.items()),
                           key=lambda item: (-item[0], item[2]))[:TOP],
        "slowest": sorted(graded, key=lambda s: s.record.seconds, reverse=True)[:TOP],
        "not_graded": [s for s in students if s.record.status != "graded"],
        "folder": out.name,
    }


def write_report(out: Path) -> Path:
    """Write ``out/report.html`` (see the module's docstring) atomically; its path."""
    import jinja2

    students = _students(out)
    if not students:
        raise ReportError(f"{out} holds no graded student: run `cnngrade batch SUBMISSIONS --out {out}` first")
    environment = jinja2.Environment(loader=jinja2.PackageLoader("cnngrade.batch", "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    html = environment.get_template("report.html.j2").render(**_context(out, students))
    return atomic.write_text(out / REPORT, html)
