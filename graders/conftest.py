"""The grader suite's conftest: it activates cnngrade's grading plugin (cnngrade.grader.plugin, which
provides the fixtures ``submission``, ``reference_submission``, ``lab``, ``images``, ``dataset``, ...)
when pytest reaches this directory by a path that cnngrade's entry point did not recognise. Light on
purpose: pytest imports it before it checks the command line's options."""

from __future__ import annotations

import pytest

from cnngrade.plugin import activate


def pytest_configure(config: pytest.Config) -> None:
    activate(config)
