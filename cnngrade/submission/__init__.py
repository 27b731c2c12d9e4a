"""The student-code side of the trust boundary: everything that reaches a submission's code.

Graders never import student code: they hold a :class:`Submission` handle (:mod:`.handle`, the
contract between the two sides), whose calls take and return plain data. Two backends implement it:

* :mod:`.inprocess`: the submission's files are loaded into the grading process (:mod:`.layout`
  finds each part's file, :mod:`.sources` reads ``.py`` and ``.ipynb`` files, :mod:`.definitions`
  and :mod:`.loading` run their definitions only) and called through :mod:`.net_probe`,
  :mod:`.training` and :mod:`.op_trace` (a call traced to an operator graph), which turn live
  objects into plain data (:mod:`.plain`);
* :mod:`.isolated`: the same code, run in a sandboxed child process that answers over a pipe.

:func:`open_submission` picks one. Every problem a submission causes is a
:class:`~.errors.SubmissionError`, whose message is feedback for the student.

Public: :class:`Submission` and its dataclasses (:mod:`.handle`), :func:`open_submission`, the errors
(:mod:`.errors`). The other modules are the backends' internals.

Attributes are imported on first use, so that ``import cnngrade.submission.errors`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnngrade.submission.backends import open_submission
    from cnngrade.submission.errors import SubmissionError
    from cnngrade.submission.handle import Submission

_EXPORTS = {
    "Submission": "cnngrade.submission.handle",
    "SubmissionError": "cnngrade.submission.errors",
    "open_submission": "cnngrade.submission.backends",
}
__all__ = ["Submission", "SubmissionError", "open_submission"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
