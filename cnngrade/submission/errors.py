"""Problems with a submission, phrased for the student who wrote it.

Every exception here is *feedback*, not a bug in cnngrade: the plugin shows its message
alone, without a traceback. Backends raise them; graders let them propagate.
"""

from __future__ import annotations

import traceback
from types import TracebackType


class MachineFault(Exception):
    """A fault of the grading machine, not of the submission (a sandbox that cannot start, a module
    installed here that the sandbox cannot import). Not feedback: it is never scored; the grading
    plugin stops the grading run with its message, and writes no results."""


class SubmissionError(Exception):
    """A problem with the submission that fails the check it happened in."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class LoadError(SubmissionError):
    """The submission could not be read or executed (missing file, syntax error, bad notebook)."""


class MissingPart(SubmissionError):
    """The submission does not contain a file or name that the check needs."""


class MissingFile(MissingPart):
    """The submission holds no file for a whole part of the lab (no ``pooling.py``, and no notebook
    that defines its names): every check of that part fails with the same message."""


class NotImplementedYet(SubmissionError):
    """The student left a template function blank (it raises ``NotImplementedError``)."""


class StudentCodeError(SubmissionError):
    """Student code raised an exception while the harness called it.

    ``exception_type`` names the class of the student's exception (``"ValueError"``), or is empty
    when the problem was found by the harness; ``missing_module`` the module an ``ImportError`` could
    not import (the grader checks whether the sandbox can import it at all).
    """

    def __init__(self, message: str, exception_type: str = "", missing_module: str = "") -> None:
        super().__init__(message)
        self.exception_type = exception_type
        self.missing_module = missing_module

    def as_builtin(self) -> Exception:
        """The student's exception as the builtin exception class of the same name (else
        RuntimeError), carrying this message less the call it names (``unfold(...) raised IndexError: ``,
        which the code that catches it says in its own words): for code that expects ordinary exceptions."""
        import builtins

        marker = f" raised {self.exception_type}: "
        text = self.message.split(marker, 1)[1] if self.exception_type and marker in self.message else self.message
        cls = getattr(builtins, self.exception_type, None)
        if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "builtins":
            try:
                return cls(text)
            except TypeError:
                pass
        return RuntimeError(self.message)


class WrongReturn(SubmissionError):
    """Student code returned something other than what the lab asks for."""


def describe_value(value: object) -> str:
    """A short, student-readable description of a returned value: ``a tuple of 2 tensors``."""
    if isinstance(value, tuple | list):
        kinds = {type(v).__name__ for v in value}
        inner = "tensors" if kinds == {"Tensor"} else "values"
        return f"a {type(value).__name__} of {len(value)} {inner}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def student_frame(tb: TracebackType | None, filenames: set[str]) -> traceback.FrameSummary | None:
    """The innermost traceback frame that lies in one of the submission's files, if any."""
    found = None
    for frame in traceback.extract_tb(tb):
        if frame.filename in filenames:
            found = frame
    return found
