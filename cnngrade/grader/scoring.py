"""Points per check, the score report, and Gradescope's ``results.json``.

The report (:meth:`Scoreboard.report`) prints each failure's message once: in the compact form (the
default) the checks that fail with the same message share one entry (a blank template's
``Net() is not implemented yet``, a missing part), passed checks are counted, not listed; with
``every_check`` each check has its line and a message repeated by a later check is not printed again.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def format_points(value: float) -> str:
    """``5`` for 5.0, ``2.5`` for 2.5."""
    return f"{value:g}"


#: how the output of a check that ended in an internal error starts (terminal and results.json)
INTERNAL_ERROR = "Internal error in cnngrade"
#: a check's status -> its label in the report
LABELS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "error": "ERROR"}
#: the tag of a results.json entry whose verdict rests on what the submission reports about itself
SELF_REPORTED_TAG = "self-reported"
#: how far a failure's message is indented under its check
MESSAGE_INDENT = " " * 6
#: the end of a property check's message, which names the property that found the problem
PROPERTY_NAME = re.compile(r" ?\(property: [\w-]+\)")
#: the compact report's pointer to the full one
COMPACT_HINT = "--all-checks or -v lists them all"


@dataclass
class CheckResult:
    """The outcome of one grader check (one pytest item with a ``points`` marker)."""

    nodeid: str
    name: str
    title: str
    max_score: float
    status: str = "passed"  # passed | failed | skipped | error (an internal error: a bug in cnngrade)
    output: str = ""
    #: why the verdict rests on what the submission reports about itself ("" where it does not)
    self_reported: str = ""
    #: figures the check measured, for programs (results.json's ``extra_data``: accuracy, confusion, fps)
    data: dict = field(default_factory=dict)
    #: Gradescope's visibility of the check (``[visibility]`` of lab.toml)
    visibility: str = "visible"

    @property
    def score(self) -> float:
        return self.max_score if self.status == "passed" else 0.0


@dataclass
class Scoreboard:
    """All checks of a run, in the order they ran; skipped checks count for nothing, checks that ended in
    an internal error count as failed."""

    results: dict[str, CheckResult] = field(default_factory=dict)

    def record(self, nodeid: str, name: str, title: str, points: float, outcome: str, output: str,
               self_reported: str = "", data: dict | None = None, visibility: str = "visible") -> None:
        """Fold one phase's outcome (setup, call, teardown: ``passed``, ``failed``, ``skipped`` or ``error``)
        into the check's result: an error outweighs a failure, which outweighs a skip."""
        result = self.results.setdefault(nodeid, CheckResult(nodeid, name, title, points, visibility=visibility))
        result.self_reported = result.self_reported or self_reported
        result.data.update(data or {})
        if outcome == "error" and result.status != "error":
            result.status, result.output = "error", output
        elif outcome == "failed" and result.status not in ("failed", "error"):
            result.status, result.output = "failed", output
        elif outcome == "skipped" and result.status == "passed":
            result.status, result.output = "skipped", output
        elif outcome == "passed" and result.status == "passed" and output:
            result.output = output  # what it measured

    def statuses(self) -> dict[str, int]:
        """How many checks passed, failed, were skipped or ended in an internal error (those present)."""
        counts: dict[str, int] = {}
        for r in self.results.values():
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    @property
    def internal_errors(self) -> list[CheckResult]:
        """The checks that ended in an internal error (a bug in cnngrade)."""
        return [r for r in self.results.values() if r.status == "error"]

    @property
    def counted(self) -> list[CheckResult]:
        return [r for r in self.results.values() if r.status != "skipped"]

    @property
    def score(self) -> float:
        return sum(r.score for r in self.counted)

    @property
    def max_score(self) -> float:
        return sum(r.max_score for r in self.counted)

    def score_text(self) -> str:
        """``Score: 37/40``."""
        return f"Score: {format_points(self.score)}/{format_points(self.max_score)}"

    def table(self) -> list[str]:
        """One line per check, then ``Score: 37/40``."""
        return [*(_line(r) for r in self.results.values()), self.score_text()]

    def report(self, *, every_check: bool = False, messages: bool = True, width: int = 80,
               notes: Sequence[str] = ()) -> list[str]:
        """The score report: the checks that did not pass (every check with ``every_check``), each
        failure's message once under the first check that failed with it (``messages``; wrapped to
        ``width``; and, listed with ``every_check``, what a passed check measured), ``notes`` (lines such
        as a warning), how many checks passed, then ``Score: 37/40``."""
        lines = []
        shown: set[str] = set()
        for r, more in self._entries(every_check):
            repeated = r.status in ("failed", "error") and _problem(r) in shown
            lines.append(_line(r, more, same=repeated and messages))
            if messages and r.status in ("failed", "error") and not repeated:
                shown.add(_problem(r))
                lines.extend(_indented(r.output, width if r.status == "failed" else None))
            elif messages and r.status == "passed" and r.output:  # what it measured
                lines.extend(_indented(r.output, width))
        for note in notes:
            lines.extend(textwrap.wrap(note, width, subsequent_indent=MESSAGE_INDENT, break_long_words=False,
                                       break_on_hyphens=False) or [""])
        counts = self.statuses()
        words = {"passed": "passed", "failed": "failed", "skipped": "skipped", "error": "ended in an internal error"}
        told = ", ".join(f"{counts[s]} {words[s]}" for s in words if counts.get(s))
        hint = "" if every_check else f"; {COMPACT_HINT}"
        count = len(self.results)
        lines.append(f"{count} check{'s' if count != 1 else ''}: {told}{hint}.")
        lines.append(self.score_text())
        return lines

    def _entries(self, every_check: bool) -> Iterator[tuple[CheckResult, list[CheckResult]]]:
        """The report's entries: each check with ``every_check``; else each check that did not pass,
        those failed with the same problem as an earlier one (:func:`_problem`) folded into its entry
        (the ``more`` list)."""
        if every_check:
            yield from ((r, []) for r in self.results.values())
            return
        entries: dict[str, tuple[CheckResult, list[CheckResult]]] = {}
        order: list[tuple[CheckResult, list[CheckResult]]] = []
        for r in self.results.values():
            if r.status == "passed":
                continue
            if r.status == "failed" and _problem(r) in entries:
                entries[_problem(r)][1].append(r)
                continue
            entry: tuple[CheckResult, list[CheckResult]] = (r, [])
            if r.status == "failed":
                entries[_problem(r)] = entry
            order.append(entry)
        yield from order

    def self_reported_notes(self) -> list[str]:
        """A line on the points that rest on what the submission reports about itself, if any passed."""
        checks = [r for r in self.counted if r.self_reported and r.status == "passed"]
        if not checks:
            return []
        points = format_points(sum(r.max_score for r in checks))
        listed = "; ".join(f"{r.title} ({r.self_reported})" for r in checks)
        return [f"Self-reported: {points} of these points rest on what the submission says about itself, "
                f"not on outputs the grader checked: {listed}."]

    def gradescope(self, extra_data: dict | None = None, execution_time: float | None = None) -> dict:
        """Gradescope's results schema: score, max_score, one entry per check, ``execution_time`` (its
        checks' seconds) and ``extra_data`` (how the submission was run)."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            **({"execution_time": execution_time} if execution_time is not None else {}),
            **({"extra_data": extra_data} if extra_data else {}),
            "tests": [
                {
                    "name": r.title,
                    "number": r.name,
                    "score": r.score,
                    "max_score": r.max_score,
                    "status": "passed" if r.status == "passed" else "failed",
                    "output": r.output,
                    "visibility": r.visibility,
                    **({"tags": [SELF_REPORTED_TAG]} if r.self_reported else {}),
                    **({"extra_data": {**r.data, **({"self_reported": r.self_reported} if r.self_reported else {})}}
                       if r.data or r.self_reported else {}),
                }
                for r in self.counted
            ],
        }

    def write_json(self, path: Path, extra_data: dict | None = None, execution_time: float | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.gradescope(extra_data, execution_time), indent=2) + "\n", encoding="utf-8")


def _problem(r: CheckResult) -> str:
    """What a failed check's message says is wrong: its message, less the name of the property that
    found it (properties of one function that fail on the same smallest input fail the same way)."""
    return PROPERTY_NAME.sub("", r.output)


def _line(r: CheckResult, more: Sequence[CheckResult] = (), same: bool = False) -> str:
    """``   0/85  FAIL  Net() builds with no arguments (and 16 more checks that fail the same way)``:
    the points of the check (and of ``more``, the checks folded into its entry; ``-`` for a skipped
    check, which the score leaves out), its label and title."""
    score = r.score + sum(m.score for m in more)
    total = r.max_score + sum(m.max_score for m in more)
    points = f"{format_points(score)}/{format_points(total)}" if r.status != "skipped" else "-"
    note = f" ({r.output}; not in the score)" if r.status == "skipped" and r.output else ""
    if more:
        note = f" (and {len(more)} more {'checks that fail' if len(more) > 1 else 'check that fails'} the same way)"
    elif same:
        note = " (the same message as above)"
    return f"{points:>7}  {LABELS[r.status]}  {r.title}{note}"


def _indented(message: str, width: int | None) -> list[str]:
    """``message`` indented under its check, its long lines wrapped at ``width`` (short lines, such as
    a table's, kept as they are; none with ``width`` None, as for a traceback)."""
    lines = []
    for line in message.strip("\n").splitlines() or [""]:
        text = MESSAGE_INDENT + line
        if width is None or len(text) <= width:
            lines.append(text.rstrip())
        else:
            lines.extend(textwrap.wrap(line, width, initial_indent=MESSAGE_INDENT, subsequent_indent=MESSAGE_INDENT,
                                       break_long_words=False, break_on_hyphens=False))
    return lines
