"""Points per check, the score table, and Gradescope's ``results.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


def format_points(value: float) -> str:
    """``5`` for 5.0, ``2.5`` for 2.5."""
    return f"{value:g}"


@dataclass
class CheckResult:
    """The outcome of one grader check (one pytest item with a ``points`` marker)."""

    nodeid: str
    name: str
    title: str
    max_score: float
    status: str = "passed"  # passed | failed | skipped
    output: str = ""

    @property
    def score(self) -> float:
        return self.max_score if self.status == "passed" else 0.0


@dataclass
class Scoreboard:
    """All checks of a run, in the order they ran; skipped checks count for nothing."""

    results: dict[str, CheckResult] = field(default_factory=dict)

    def record(self, nodeid: str, name: str, title: str, points: float, outcome: str, output: str) -> None:
        """Fold one phase's outcome (setup, call, teardown) into the check's result."""
        result = self.results.setdefault(nodeid, CheckResult(nodeid, name, title, points))
        if outcome == "failed" and result.status != "failed":
            result.status, result.output = "failed", output
        elif outcome == "skipped" and result.status == "passed":
            result.status, result.output = "skipped", output

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
        lines = []
        for r in self.results.values():
            points = f"{format_points(r.score)}/{format_points(r.max_score)}"
            label = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[r.status]
            note = f" ({r.output})" if r.status == "skipped" and r.output else ""
            lines.append(f"{points:>7}  {label}  {r.title}{note}")
        lines.append(self.score_text())
        return lines

    def gradescope(self) -> dict:
        """Gradescope's results schema: score, max_score and one entry per check."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "tests": [
                {
                    "name": r.title,
                    "number": r.name,
                    "score": r.score,
                    "max_score": r.max_score,
                    "status": "passed" if r.status == "passed" else "failed",
                    "output": r.output,
                    "visibility": "visible",
                }
                for r in self.counted
            ],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.gradescope(), indent=2) + "\n", encoding="utf-8")
