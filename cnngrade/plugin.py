"""cnngrade's pytest entry point (``pytest11``), loaded by every pytest run in the environment.

It costs nothing where it is not used: it imports only :mod:`cnngrade.grader.options` (no torch) and
declares the grading options. The grading plugin itself, :mod:`cnngrade.grader.plugin` (fixtures,
points, the score report), is registered only for a grading run: one given ``--submission``, or one
that collects a grader suite (a directory holding ``lab.toml``, such as ``graders/``, whose
``conftest.py`` also activates it when pytest reaches it during collection).
"""

from __future__ import annotations

import pytest

from cnngrade.grader.options import add_options, is_grading_run

#: the name the grading plugin is registered under
GRADER_PLUGIN = "cnngrade.grader.plugin"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if is_grading_run(config):
        activate(config)


def activate(config: pytest.Config) -> None:
    """Register the grading plugin for this run (once)."""
    if not config.pluginmanager.has_plugin(GRADER_PLUGIN):
        config.pluginmanager.import_plugin(GRADER_PLUGIN)
