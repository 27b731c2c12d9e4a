"""Fixtures for testing cnngrade: the corpus of submissions, each graded once per session.

Tests that assert on gradings are marked ``@pytest.mark.grades("group", ...)`` with the groups (and
jobs) of :mod:`tests.corpus` they read; those start in the background once collection ends, and the
tests that read them run after the others, in the order their gradings should end. The corpus's warm
process starts before collection, to be ready then.
"""

from __future__ import annotations

import os

import pytest
import torch

from cnngrade.grader.invocation import Runner
from cnngrade.properties import load_profile
from cnngrade.threads import thread_env
from tests.corpus import Corpus, expected_ends, known

# One torch thread in this process and in every process it starts (gradings, their sandboxed children):
# the suite runs its tests beside up to WORKERS corpus gradings, more processes than the machine has
# cores, and OpenMP threads of processes that share cores spin waiting for each other (cnngrade.threads)
os.environ.update(thread_env(1))
torch.set_num_threads(1)

# Hypothesis's profile for cnngrade's own tests: ``ci`` when $CI is set, else ``dev``
# ($CNNGRADE_HYPOTHESIS_PROFILE chooses explicitly); the graders always use ``ci``.
load_profile()

# hostile submissions are data, never collected (one carries a conftest.py of its own)
collect_ignore = ["hostile"]

_corpus_key = pytest.StashKey[Corpus]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "grades(*names): the corpus groups and jobs (tests/corpus.py) a test reads")
    config.addinivalue_line("markers", "deploy: builds a deployment from the package registries (Gradescope's "
                            "image, a Slurm cluster); left out unless asked for: `./run test -m deploy`")
    if not config.option.collectonly:
        _corpus(config)  # its warm process imports torch while the tests are collected


def _corpus(config: pytest.Config) -> Corpus:
    if _corpus_key not in config.stash:
        config.stash[_corpus_key] = Corpus()
    return config.stash[_corpus_key]


def _reads(item: pytest.Item) -> set[str]:
    return {name for marker in item.iter_markers("grades") for name in marker.args}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that read corpus gradings run after the others, in the order their gradings should end
    (:func:`tests.corpus.expected_ends`; else in their order): until then the corpus grades in the
    background while this process runs every test that needs none, and a test that does work of its
    own on a grading (a batch run again, a browser) does it while later ones are still graded."""
    wanted = set().union(*map(_reads, items))
    ends = expected_ends({name for name in wanted if known(name)})
    items.sort(key=lambda item: max((ends.get(name, 0.0) for name in _reads(item)), default=-1.0))


def pytest_collection_finish(session: pytest.Session) -> None:
    wanted = set().union(*map(_reads, session.items))
    unknown = {name for name in wanted if not known(name)}
    if unknown:
        raise pytest.UsageError(f"unknown corpus groups or jobs {sorted(unknown)} (see tests/corpus.py)")
    if wanted and not session.config.option.collectonly:
        _corpus(session.config).start(sorted(wanted))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001 - pytest's reporter
    if _corpus_key in config.stash:
        timings = config.stash[_corpus_key].timings()
        if timings:
            terminalreporter.section("corpus gradings")
            for name, (count, seconds) in sorted(timings.items(), key=lambda item: -item[1][1]):
                what = "a job" if count is None else f"{count} submissions"
                terminalreporter.write_line(f"{seconds:6.1f} s  {name} ({what})")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _corpus_key in config.stash:
        config.stash[_corpus_key].close()


@pytest.fixture(scope="session")
def corpus(pytestconfig: pytest.Config) -> Corpus:
    """The corpus's gradings: ``corpus.grade("buggy_net", "softmax")``."""
    return _corpus(pytestconfig)


@pytest.fixture(scope="session")
def warm(corpus: Corpus) -> Runner:
    """Runs a grading command forked from the corpus's warm process (cnngrade/batch/warm.py): ``runner=warm``."""
    return corpus.warm.run
