"""Failing a grader check with a message for the student, not a traceback; what is feedback and what is
a bug in cnngrade; and the note that sends a student to the function to fix first.

* :func:`fail` / :func:`expect` fail the current check with a message alone;
* :func:`self_reported` marks a verdict that rests on what the submission reports about itself;
* :func:`is_feedback`: the exceptions a check may end with (a
  :class:`~cnngrade.submission.errors.SubmissionError`, a failure of :func:`fail`, a skip, a problem
  with lab.toml or the data); anything else is an internal error, a bug in cnngrade
  (:func:`internal_error`);
* :func:`fix_first`: the note added to a check whose code may call a lab function that fails its own
  check (unfold calling conv_output_size; an answer computed with max_pool2d), and
  :func:`answer_uses`, which lab functions the reference computes each answer with.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

import pytest

from cnngrade.data.errors import DataError
from cnngrade.grader.scoring import INTERNAL_ERROR
from cnngrade.lab.config import ConfigError
from cnngrade.submission.errors import LoadError, MissingFile, NotImplementedYet, SubmissionError

#: innermost frames of an internal error's traceback that its output shows
TRACEBACK_FRAMES = 4


#: the user property that marks a self-reported verdict (its value says why)
SELF_REPORTED = "self_reported"


def self_reported(request: pytest.FixtureRequest, why: str) -> None:
    """Mark the current check's verdict as resting on what the submission reports about itself
    (``why``, a phrase): the score report and results.json say so. Under the isolated backend a
    submission could misreport it; every other verdict is computed from outputs the grader chose."""
    request.node.user_properties.append((SELF_REPORTED, why))


#: the user property with what a check measured (its value a phrase), told when the check passes
MEASURED = "measured"


def measured(request: pytest.FixtureRequest, what: str) -> None:
    """Record what the current check measured (``what``, a phrase such as "Net reaches 97.20% accuracy
    (95.50% needed)"): a check that passes shows it under its line in the score report that lists
    every check (``-v``), in ``cnngrade check-lab``, and as its output in results.json; a failing one
    says it in its message anyway."""
    request.node.user_properties.append((MEASURED, what))


#: the user property with figures a check measured, for programs (results.json's ``extra_data``)
DATA = "data"


def data(request: pytest.FixtureRequest, **values: object) -> None:
    """Record figures the current check measured (plain JSON values: ``accuracy=0.97``,
    ``confusion=[[...]]``) in its results.json entry's ``extra_data``: what ``cnngrade report`` and
    Gradescope's leaderboard read."""
    request.node.user_properties.append((DATA, values))


def fail(message: str) -> NoReturn:
    """Fail the current check with ``message`` alone (what was expected, what was seen), without the
    exception being handled when it was called (pytest would show that one too)."""
    raise pytest.fail.Exception(message, pytrace=False) from None


def expect(condition: bool, message: str) -> None:
    """Fail the current check with ``message`` unless ``condition`` holds."""
    if not condition:
        fail(message)


def is_feedback(exc: BaseException) -> bool:
    """Whether a check that raised ``exc`` ended as designed: failed with feedback for the student
    (a SubmissionError, :func:`fail`, a lab.toml or data problem), skipped, or stopped by pytest.
    Any other exception is a bug in cnngrade."""
    # pytest's fail, skip and xfail are BaseExceptions (as are KeyboardInterrupt and SystemExit)
    return not isinstance(exc, Exception) or isinstance(
        exc, (SubmissionError, ConfigError, DataError, pytest.exit.Exception))


def is_absent(exc: BaseException) -> bool:
    """Whether ``exc`` says that code is not there to check (a whole part missing, a blank template, a
    file that does not load): such a failure neither sends later checks to fix its function first
    (they fail the same way) nor gets such a note."""
    return isinstance(exc, (MissingFile, NotImplementedYet, LoadError))


def internal_error(exc: BaseException) -> str:
    """The output of a check that ended in ``exc``, a bug in cnngrade: what it was, that it is not the
    student's fault, and the innermost frames of its traceback for the instructor."""
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not any(part in f.filename for part in ("/_pytest/", "/pluggy/"))][-TRACEBACK_FRAMES:]
    return (f"{INTERNAL_ERROR}: {summary}\nThis is a bug in cnngrade, not a problem with the submission: "
            "please report it with these lines.\nTraceback (innermost frames):\n"
            + "".join(traceback.format_list(frames)).rstrip())


def fix_first(subject: str, failing: Iterable[str], *, answer: bool = False) -> str:
    """The note for a check of ``subject`` (a function, or an answer's constant with ``answer``) whose
    code may call the lab functions ``failing``, which fail their own checks: fix those first."""
    names = sorted(set(failing))
    if not names:
        return ""
    listed = " and ".join(f"`{n}`" for n in names)
    verb = "fails its own check" if len(names) == 1 else "fail their own checks"
    use = f"you computed {subject} with {'it' if len(names) == 1 else 'them'}" if answer else \
        f"{subject} calls {'it' if len(names) == 1 else 'them'}"
    return f"Note: {listed} {verb} (see above). If {use}, fix {listed} first."


def answer_uses(answers: Path, functions: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """For each ``### ANSWER`` constant of the reference's answers file, the lab ``functions`` its
    expression calls (``REPORT_SHAPES``: ``("conv_output_size",)``); empty when it cannot be read."""
    from cnngrade.lab.release import ANSWER

    try:
        lines = answers.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    uses = {}
    for line in lines:
        match = ANSWER.match(line)
        if match:
            called = set(re.findall(r"\b(\w+)\s*\(", line)) & functions
            uses[match.group("name")] = tuple(sorted(called))
    return uses
