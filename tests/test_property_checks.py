"""A grader's property check through the submission handle: the student's exception counts as raised,
a call the sandbox stopped does not.

Graded in the landlock tier with no restarts, a submission with no pooling.py passed
``test_max_pool2d[errors]`` (5 points in all): once its child had been stopped, every call raised the
sandbox's reason, which the ``errors`` property (illegal arguments must raise) took for the function's
own RuntimeError.
"""

from __future__ import annotations

import pytest

from cnngrade.grader.checks import check_property
from cnngrade.properties import check_max_pool2d
from cnngrade.submission.errors import StudentCodeError


class _Handle:
    """A submission whose every call raises ``error``."""

    def __init__(self, error: StudentCodeError) -> None:
        self.error = error

    def call(self, name: str, *args: object, **kwargs: object) -> object:
        raise self.error


def test_a_call_the_sandbox_stopped_is_not_the_function_raising():
    stopped = _Handle(StudentCodeError("max_pool2d() was stopped: the submission's processes wrote more than "
                                       "256 MiB or 10000 files into their temporary folder (its limit)."))
    with pytest.raises(pytest.fail.Exception, match="it should raise a ValueError or RuntimeError"):
        check_property(stopped, check_max_pool2d, "max_pool2d", "errors")


def test_the_students_own_exception_is_raised_as_its_builtin():
    raising = _Handle(StudentCodeError("max_pool2d(...) raised ValueError: stride must be positive", "ValueError"))
    check_property(raising, check_max_pool2d, "max_pool2d", "errors")  # illegal arguments raise: it holds
