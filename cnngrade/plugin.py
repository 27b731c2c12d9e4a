"""cnngrade's pytest entry point (``pytest11``), loaded by every pytest run in the environment.

It costs nothing where it is not used: it imports only :mod:`cnngrade.grader.options` (no torch) and
declares the grading options. The grading plugin itself, :mod:`cnngrade.grader.plugin` (fixtures,
points, the score report), is registered only for a grading run: one given ``--submission``, or one
that collects a grader suite (a directory holding ``lab.toml``, such as ``graders/``, whose
``conftest.py`` also activates it when pytest reaches it during collection).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cnngrade.grader.options import add_options, is_grading_run, isolation_limits
from cnngrade.submission.isolated.limits import Limits

#: the name the grading plugin is registered under
GRADER_PLUGIN = "cnngrade.grader.plugin"
#: the sandbox's limits of an ``--isolated`` run (absent: in-process)
LIMITS = pytest.StashKey[Limits]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if is_grading_run(config):
        activate(config)


def activate(config: pytest.Config) -> None:
    """Check the backend options (a usage error refuses the run before torch is imported), then
    register the grading plugin for this run (once). Isolated, the first submission's sandboxed
    child starts first, so that it imports torch while this process does."""
    if config.pluginmanager.has_plugin(GRADER_PLUGIN):
        return
    limits = isolation_limits(config)
    if limits is not None:
        config.stash[LIMITS] = limits
        if not config.option.collectonly:
            from cnngrade.submission.isolated import launch

            first = (config.getoption("--submission") or [Path(config.rootpath) / "student_templates"])[0]
            launch.start_early(Path(first), definitions_only=not config.getoption("--run-all-code"), limits=limits)
    config.pluginmanager.import_plugin(GRADER_PLUGIN)
