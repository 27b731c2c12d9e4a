"""Grade a submission in a fresh pytest process and read back its results.

The score comes from the ``results.json`` that the grading process's plugin writes; the
process that runs the graders is a fresh ``python -m pytest``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Grade:
    """The outcome of one grader run: each check's status and feedback, the score, the exit code."""

    checks: dict[str, dict]
    score: float
    max_score: float
    exit_code: int
    stdout: str

    def failed(self) -> dict[str, str]:
        """Failed checks (by check name) with their feedback."""
        return {name: c["output"] for name, c in self.checks.items() if c["status"] == "failed"}

    def passed(self) -> set[str]:
        """Names of the checks that passed."""
        return {name for name, c in self.checks.items() if c["status"] == "passed"}


def run_graders(
    submission: Path,
    graders: Path,
    *options: str,
    cwd: Path | None = None,
    files: tuple[str, ...] = (),
    timeout: float = 1800,
) -> Grade:
    """Run ``pytest GRADERS --submission SUBMISSION OPTIONS`` in a subprocess; return its :class:`Grade`.

    ``files`` limits the run to those grader files (``test_2_forward.py``).
    """
    with tempfile.TemporaryDirectory(prefix="cnngrade-") as scratch:
        results = Path(scratch) / "results.json"
        command = [
            sys.executable, "-m", "pytest", *([str(graders / f) for f in files] or [str(graders)]),
            f"--rootdir={graders.parent}",
            f"--submission={submission}", f"--results-json={results}", "-p", "no:cacheprovider", "-q",
            *options,
        ]
        proc = subprocess.run(command, cwd=cwd or graders.parent, capture_output=True, text=True,
                              timeout=timeout)
        if not results.is_file():
            raise RuntimeError(f"the grader run wrote no results:\n{proc.stdout}\n{proc.stderr}")
        data = json.loads(results.read_text(encoding="utf-8"))
    checks = {t["number"]: t for t in data["tests"]}
    return Grade(checks, data["score"], data["max_score"], proc.returncode, proc.stdout)
