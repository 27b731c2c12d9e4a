"""Fixtures for testing cnngrade: grade a submission with the real graders, once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cnngrade.grader.invocation import Grade, run_graders
from tests.paths import ROOT

# hostile submissions are data, never collected (one carries a conftest.py of its own)
collect_ignore = ["hostile"]


@pytest.fixture(scope="session")
def grade() -> Callable[..., Grade]:
    """``grade(path, *pytest_options, cwd=None, files=())``: graders run once per distinct call;
    ``files`` limits the run to some grader files."""
    cache: dict[tuple, Grade] = {}

    def _grade(submission: Path, *options: str, cwd: Path | None = None, files: tuple[str, ...] = ()) -> Grade:
        key = (submission, options, cwd, files)
        if key not in cache:
            cache[key] = run_graders(submission, ROOT / "graders", *options, cwd=cwd, files=files)
        return cache[key]

    return _grade
