"""The grading plugin: what turns ``graders/`` into a grader (registered by :mod:`cnngrade.plugin`).

* ``--submission PATH`` picks the submission (default ``student_templates/``); given several times, the
  run grades each in turn (every check is parametrized by the submission's name) and keeps a score
  per submission;
* ``--isolated`` runs submissions in sandboxed child processes (:mod:`cnngrade.plugin` has checked
  that a sandbox works); the children start before the checks that need them (the next
  submission's while the current one is graded);
* the ``submission`` fixture is the only way graders reach student code;
* ``@pytest.mark.points(n)`` gives a check its points (``[points]`` in lab.toml overrides);
* feedback from :class:`~cnngrade.submission.errors.SubmissionError` is shown without a traceback;
* the run ends with a per-check table and ``Score: 37/40`` (a line per submission when there are
  several), and optionally ``results.json``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cnngrade.data import DataError, Split, load_bundled_mnist, load_dataset
from cnngrade.grader.checks import check_property
from cnngrade.grader.inputs import image_batch
from cnngrade.grader.scoring import Scoreboard
from cnngrade.grader.submissions import Submissions
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.plugin import LIMITS
from cnngrade.submission import Submission, open_submission
from cnngrade.submission.errors import SubmissionError

SEED = 0

_submissions_key = pytest.StashKey[Submissions]()
_lab_key = pytest.StashKey["LabConfig | ConfigError"]()
#: handles started before the first check that uses them, by key: ``"reference"``, ``"submission:NAME"``
_started_key = pytest.StashKey[dict[str, Submission]]()
REFERENCE = "reference"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the points a grader check is worth")
    submissions = Submissions.from_options(
        config.getoption("--submission") or [_option_path(config, None, "student_templates")],
        config.getoption("--results-json"),
    )
    config.stash[_submissions_key] = submissions
    config.pluginmanager.register(ScoreCollector(config, submissions), "cnngrade-score")
    # isolated: the first submission's child imports torch while this process collects the checks
    if not config.option.collectonly:
        _start(config, f"submission:{submissions.names[0]}")


def _option_path(config: pytest.Config, name: str | None, default: str) -> Path:
    value = config.getoption(name) if name else None
    return Path(value) if value else Path(config.rootpath) / default


def lab_config(config: pytest.Config) -> LabConfig:
    """The run's lab configuration (``--lab-config``, default ``graders/lab.toml``), read once."""
    if _lab_key not in config.stash:
        try:
            config.stash[_lab_key] = LabConfig.load(_option_path(config, "--lab-config", "graders/lab.toml"))
        except ConfigError as exc:
            config.stash[_lab_key] = exc
    loaded = config.stash[_lab_key]
    if isinstance(loaded, ConfigError):
        raise loaded
    return loaded


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config) -> LabConfig:
    """The lab's thresholds and points (``graders/lab.toml``)."""
    return lab_config(pytestconfig)


# --------------------------------------------------------------------------- handles


def _open(config: pytest.Config, key: str) -> Submission:
    """A handle, served by the run's backend, on the reference (``key`` ``"reference"``) or on the
    submission ``key`` names (``"submission:NAME"``)."""
    if key == REFERENCE:
        path, definitions_only = _option_path(config, "--reference", "reference"), True
    else:
        name = key.removeprefix("submission:")
        path, definitions_only = config.stash[_submissions_key][name], not config.getoption("--run-all-code")
    return open_submission(path, isolated=LIMITS in config.stash, limits=config.stash.get(LIMITS, None),
                           definitions_only=definitions_only)


def _start(config: pytest.Config, key: str) -> None:
    """With --isolated, start the child of ``key`` now (it imports torch while checks run)."""
    started = config.stash.setdefault(_started_key, {})
    if LIMITS in config.stash and key not in started:
        started[key] = _open(config, key)
        started[key].start()


def _handle(config: pytest.Config, key: str) -> Iterator[Submission]:
    handle = config.stash.get(_started_key, {}).pop(key, None) or _open(config, key)
    try:
        yield handle
    finally:
        handle.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """With several submissions, every check that uses ``submission`` runs once per submission."""
    submissions = metafunc.config.stash[_submissions_key]
    if submissions.several and "submission" in metafunc.fixturenames:
        metafunc.parametrize("submission", submissions.names, indirect=True, ids=submissions.names,
                             scope="session")


def pytest_collection_finish(session: pytest.Session) -> None:
    """With --isolated, start the reference's child if a selected check needs it (the first
    submission's started at configure): each spends seconds importing torch (no student code runs
    before its first call)."""
    fixtures = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    if "reference_submission" in fixtures:
        _start(session.config, REFERENCE)


def pytest_unconfigure(config: pytest.Config) -> None:
    for handle in config.stash.get(_started_key, {}).values():  # started, but no check asked for it
        handle.close()


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest) -> Iterator[Submission]:
    """The handle on the submission under grade: graders' only way to reach student code."""
    submissions = request.config.stash[_submissions_key]
    name = getattr(request, "param", submissions.names[0])
    following = submissions.after(name)
    if following is not None:
        _start(request.config, f"submission:{following}")
    yield from _handle(request.config, f"submission:{name}")


@pytest.fixture(scope="session")
def reference_submission(pytestconfig: pytest.Config) -> Iterator[Submission]:
    """The reference solution, served by the same backend as the submission (for speed)."""
    yield from _handle(pytestconfig, REFERENCE)


# --------------------------------------------------------------------------- inputs and data


@pytest.fixture
def images(lab: LabConfig) -> Callable[..., torch.Tensor]:
    """``images(n, seed=0)``: a reproducible batch of n input images of the lab's input shape."""
    shape = tuple(lab.setting("net.input_shape"))
    return lambda n, seed=0: image_batch(n, shape, seed)


@pytest.fixture
def property_check(submission: Submission) -> Callable[[Callable[..., Any], str, str], None]:
    """``property_check(check, name, prop)``: run one property of a cnngrade.properties suite on the
    submission's function ``name`` (:func:`cnngrade.grader.checks.check_property`)."""
    return lambda check, name, prop: check_property(submission, check, name, prop)


@pytest.fixture(scope="session")
def dataset(pytestconfig: pytest.Config, lab: LabConfig) -> tuple[Split, Split]:
    """(train, test) splits for the accuracy checks; the test labels never leave this process."""
    name = pytestconfig.getoption("--dataset") or lab.setting("accuracy.dataset")
    root = pytestconfig.getoption("--data-root")
    return load_dataset(name, Path(root) if root else None)


@pytest.fixture(scope="session")
def mnist_test() -> Split:
    """The official MNIST test set (bundled), for a submitted model.pt."""
    return load_bundled_mnist()[1]


@pytest.fixture(autouse=True)
def _seed_everything(request: pytest.FixtureRequest) -> None:
    """Grader checks start from the same random state every time."""
    if request.node.get_closest_marker("points") is not None:
        random.seed(SEED)
        np.random.seed(SEED)
        torch.manual_seed(SEED)


# --------------------------------------------------------------------------- points and reports


def _points(item: pytest.Item, check: str) -> float | None:
    marker = item.get_closest_marker("points")
    if marker is None:
        return None
    default = float(marker.args[0]) if marker.args else 1.0
    try:
        return lab_config(item.config).points(check, default)
    except ConfigError:
        return default


def _check(item: pytest.Item, submission: str | None) -> tuple[str, str]:
    """The check's name and title, without the submission's name: ``("test_answer[Q6A]", "Answer: Q6A")``."""
    doc = getattr(getattr(item, "obj", None), "__doc__", None)
    title = doc.strip().splitlines()[0] if doc and doc.strip() else item.name
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return item.name, title
    ids = callspec.id
    if submission is not None and "submission" in callspec.params:
        ids = "" if ids == submission else ids.removesuffix(f"-{submission}").removeprefix(f"{submission}-")
    base = getattr(item, "originalname", item.name)
    return (f"{base}[{ids}]", f"{title}: {ids}") if ids else (base, title)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance((SubmissionError, ConfigError, DataError)):
        report.longrepr = str(call.excinfo.value)
    callspec = getattr(item, "callspec", None)
    submissions = item.config.stash[_submissions_key]
    submission = callspec.params.get("submission") if callspec is not None else None
    submission = submission if isinstance(submission, str) else submissions.names[0]
    check, title = _check(item, submission if submissions.several else None)
    points = _points(item, check.split("[", 1)[0])
    if points is not None:
        report.cnngrade = (submission, check, title, points)
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    submissions = config.stash[_submissions_key]
    shown = ", ".join(str(p) for p in list(submissions.paths.values())[:3])
    more = f" and {len(submissions) - 3} more" if len(submissions) > 3 else ""
    return [f"cnngrade: grading {shown}{more}", f"cnngrade: backend {_backend(config)}"]


def _backend(config: pytest.Config) -> str:
    """Which backend runs the submission, in words (the report header and the score section say it)."""
    if LIMITS in config.stash:
        from cnngrade.submission.isolated import sandbox

        return f"isolated (the submission runs in a sandbox: {sandbox.detect().description})"
    return "in-process (the submission's code runs in the grading process, unsandboxed: for trusted code only)"


class ScoreCollector:
    """Collects every check's outcome per submission, prints the score, writes results.json."""

    def __init__(self, config: pytest.Config, submissions: Submissions) -> None:
        self.config = config
        self.submissions = submissions
        self.boards = {name: Scoreboard() for name in submissions.names}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        info = getattr(report, "cnngrade", None)
        if info is None:
            return
        submission, name, title, points = info
        if report.skipped and isinstance(report.longrepr, tuple):
            output = str(report.longrepr[2]).removeprefix("Skipped: ")
        else:
            output = report.longreprtext if report.failed else ""
        self.boards[submission].record(report.nodeid, name, title, points, report.outcome, output)

    def pytest_terminal_summary(self, terminalreporter) -> None:  # noqa: ANN001 - pytest's TerminalReporter
        graded = {name: board for name, board in self.boards.items() if board.results}
        if not graded:
            return
        terminalreporter.section("cnngrade score")
        terminalreporter.write_line(f"Backend: {_backend(self.config)}")
        if not self.submissions.several:
            for line in next(iter(graded.values())).table():
                terminalreporter.write_line(line, bold=line.startswith("Score"))
            return
        width = max(len(name) for name in graded)
        for name, board in graded.items():
            failed = [r.name for r in board.results.values() if r.status == "failed"]
            note = f"  failed: {', '.join(failed)}" if failed else ""
            terminalreporter.write_line(f"{name:<{width}}  {board.score_text()}{note}")

    def pytest_sessionfinish(self) -> None:
        for name, board in self.boards.items():
            target = self.submissions.results_path(name)
            if target is not None and board.results:
                board.write_json(target)
