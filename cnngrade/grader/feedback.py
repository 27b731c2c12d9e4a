"""Failing a grader check with a message for the student, not a traceback."""

from __future__ import annotations

from typing import NoReturn

import pytest


def fail(message: str) -> NoReturn:
    """Fail the current check with ``message`` alone (what was expected, what was seen)."""
    pytest.fail(message, pytrace=False)


def expect(condition: bool, message: str) -> None:
    """Fail the current check with ``message`` unless ``condition`` holds."""
    if not condition:
        fail(message)
