"""Choosing the backend that runs a submission's code."""

from __future__ import annotations

from pathlib import Path

from cnngrade.lab.parts import Parts
from cnngrade.submission.handle import Submission
from cnngrade.submission.inprocess import InProcessSubmission
from cnngrade.submission.isolated.limits import Limits


def open_submission(
    path: Path, *, isolated: bool = False, limits: Limits | None = None, definitions_only: bool = True,
    parts: Parts | None = None,
) -> Submission:
    """A handle on the submission at ``path``: in a sandboxed child when ``isolated`` (within
    ``limits``, default :meth:`Limits.from_env`), else in this process. ``parts``: the lab's file
    contract (default: the project's default lab's)."""
    if isolated:
        from cnngrade.submission.isolated import IsolatedSubmission

        return IsolatedSubmission(path, definitions_only=definitions_only, limits=limits, parts=parts)
    return InProcessSubmission(path, definitions_only=definitions_only, parts=parts)
