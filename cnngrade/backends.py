"""Choosing the backend that runs a submission's code."""

from __future__ import annotations

from pathlib import Path

from cnngrade.handle import Submission
from cnngrade.inprocess import InProcessSubmission


def open_submission(path: Path, *, isolated: bool = False, definitions_only: bool = True) -> Submission:
    """A handle on the submission at ``path``: in a sandboxed child when ``isolated``, else in-process."""
    if isolated:
        from cnngrade.isolated import IsolatedSubmission

        return IsolatedSubmission(path, definitions_only=definitions_only)
    return InProcessSubmission(path, definitions_only=definitions_only)
