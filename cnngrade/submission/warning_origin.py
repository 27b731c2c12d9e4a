"""Which warnings are the submission's: those raised while its code runs, whatever their text.

The in-process backend runs student code (loading its files, and every call of the handle) inside
:func:`submission_code`, which marks the warnings raised there as the submission's and raises them
again, unchanged, for pytest to record; the score report shows only marked ones
(:func:`raised_by_submission`). A warning of cnngrade's own computations (the grader running the lab's
layers, comparing outputs, checking a property) is raised outside it and never marked. Under the
isolated backend student code runs in the sandboxed child, whose warnings go to its output log: no
warning of the grading process is the submission's.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: the attribute that marks a warning (the ``Warning`` instance) as raised by the submission's code
MARK = "_cnngrade_raised_by_submission"


@contextmanager
def submission_code() -> Iterator[None]:
    """Run the block as the submission's code: the warnings it raises (under the filters in force) are
    marked as the submission's, then raised again where they were raised (file and line)."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            yield
    finally:
        for record in caught:
            message = record.message
            try:
                setattr(message, MARK, True)
            except AttributeError:  # a warning class with __slots__: it stays unmarked, so unreported
                continue
            warnings.warn_explicit(message, record.category, record.filename, record.lineno, source=record.source)


def raised_by_submission(message: Warning | str) -> bool:
    """Whether ``message`` (a recorded warning's ``message``) was raised by the submission's code."""
    return getattr(message, MARK, False) is True
