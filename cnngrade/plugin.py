"""The pytest plugin that turns ``graders/`` into a grader.

* ``--submission PATH`` picks the submission (default ``student_templates/``);
* ``--isolated`` runs it in a sandboxed child process, and refuses to start when no sandbox works;
* the ``submission`` fixture is the only way graders reach student code;
* ``@pytest.mark.points(n)`` gives a check its points (``[points]`` in lab.toml overrides);
* feedback from :class:`~cnngrade.errors.SubmissionError` is shown without a traceback;
* the run ends with a per-check table and ``Score: 37/40``, and optionally ``results.json``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from cnngrade.backends import open_submission
from cnngrade.config import ConfigError, LabConfig
from cnngrade.data import DataError, Split, load_bundled_mnist, load_dataset
from cnngrade.errors import SubmissionError
from cnngrade.handle import Submission
from cnngrade.isolated.limits import Limits
from cnngrade.scoring import Scoreboard

SEED = 0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnngrade", "grading a CNN lab submission")
    group.addoption(
        "--submission",
        metavar="PATH",
        help="submission to grade: a directory with the lab's files, one .py or one .ipynb "
        "(default: student_templates/)",
    )
    group.addoption(
        "--lab-config", metavar="PATH", help="lab thresholds and points (default: graders/lab.toml)"
    )
    group.addoption(
        "--run-all-code",
        action="store_true",
        help="run the whole submission file, not only its definitions (training loops included)",
    )
    group.addoption("--results-json", metavar="PATH", help="write Gradescope-style results.json here")
    group.addoption(
        "--reference",
        metavar="PATH",
        help="the lab's reference solution, for speed comparisons (default: reference/)",
    )
    group.addoption("--dataset", metavar="NAME", help="dataset for the accuracy checks (default: lab.toml)")
    group.addoption("--data-root", metavar="DIR", help="directory holding torchvision-layout datasets")
    group.addoption(
        "--isolated",
        action="store_true",
        help="run the submission in a sandboxed child process (for untrusted code); refuses to grade "
        "when this machine offers no sandbox",
    )
    group.addoption(
        "--call-timeout",
        metavar="SECONDS",
        type=float,
        help="with --isolated: wall-clock seconds one call into the submission may take (default 60, "
        "or CNNGRADE_CALL_TIMEOUT; training may take 10 times as long)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the points a grader check is worth")
    config.pluginmanager.register(ScoreCollector(config), "cnngrade-score")
    if config.getoption("--isolated"):
        config.stash[_limits_key] = _isolation_limits(config)
    elif config.getoption("--call-timeout") is not None:
        raise pytest.UsageError("--call-timeout limits the isolated backend's calls: use it with --isolated")


_limits_key = pytest.StashKey["Limits"]()


def _isolation_limits(config: pytest.Config) -> Limits:
    """The sandbox's limits, after checking that a sandbox works here (fails closed: a usage error)."""
    from cnngrade.isolated import sandbox

    try:
        sandbox.detect()
        timeout = config.getoption("--call-timeout")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"--call-timeout must be a positive number of seconds, not {timeout:g}")
        return Limits.from_env(**({} if timeout is None else {"call_timeout": timeout}))
    except (sandbox.SandboxUnavailable, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from None


def _option_path(config: pytest.Config, name: str, default: str) -> Path:
    value = config.getoption(name)
    return Path(value) if value else Path(config.rootpath) / default


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config) -> LabConfig:
    """The lab's thresholds and points (``graders/lab.toml``)."""
    return LabConfig.load(_option_path(pytestconfig, "--lab-config", "graders/lab.toml"))


def _open_submission(config: pytest.Config) -> Submission:
    return open_submission(
        _option_path(config, "--submission", "student_templates"),
        isolated=_limits_key in config.stash,
        limits=config.stash.get(_limits_key, None),
        definitions_only=not config.getoption("--run-all-code"),
    )


def _open_reference(config: pytest.Config) -> Submission:
    return open_submission(
        _option_path(config, "--reference", "reference"),
        isolated=_limits_key in config.stash,
        limits=config.stash.get(_limits_key, None),
    )


#: the handle fixtures and how each opens its handle
_OPENERS = {"submission": _open_submission, "reference_submission": _open_reference}
_started_key = pytest.StashKey[dict[str, Submission]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """With --isolated, start the children that the selected checks need before the first check, side by
    side: each spends seconds importing torch (no student code runs before its first call)."""
    config = session.config
    if _limits_key not in config.stash:
        return
    needed = {name for item in session.items for name in getattr(item, "fixturenames", ()) if name in _OPENERS}
    started = config.stash.setdefault(_started_key, {})
    for name in sorted(needed):
        started[name] = _OPENERS[name](config)
        started[name].start()


def _handle(config: pytest.Config, name: str) -> Iterator[Submission]:
    handle = config.stash.get(_started_key, {}).pop(name, None) or _OPENERS[name](config)
    yield handle
    handle.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    for handle in config.stash.get(_started_key, {}).values():  # started, but no check asked for it
        handle.close()


@pytest.fixture(scope="session")
def submission(pytestconfig: pytest.Config) -> Iterator[Submission]:
    """The handle on the submission under grade: graders' only way to reach student code."""
    yield from _handle(pytestconfig, "submission")


@pytest.fixture(scope="session")
def reference_submission(pytestconfig: pytest.Config) -> Iterator[Submission]:
    """The reference solution, served by the same backend as the submission (for speed)."""
    yield from _handle(pytestconfig, "reference_submission")


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


def _points(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("points")
    if marker is None:
        return None
    default = float(marker.args[0]) if marker.args else 1.0
    try:
        lab = LabConfig.load(_option_path(item.config, "--lab-config", "graders/lab.toml"))
    except ConfigError:
        return default
    return lab.points(item.originalname if isinstance(item, pytest.Function) else item.name, default)


def _title(item: pytest.Item) -> str:
    """The check's docstring line, with its parameters for a parametrized check."""
    doc = getattr(getattr(item, "obj", None), "__doc__", None)
    title = doc.strip().splitlines()[0] if doc and doc.strip() else item.name
    callspec = getattr(item, "callspec", None)
    return f"{title}: {callspec.id}" if callspec is not None else title


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance((SubmissionError, ConfigError, DataError)):
        report.longrepr = str(call.excinfo.value)
    points = _points(item)
    if points is not None:
        report.cnngrade = (item.name, _title(item), points)
    return report


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if config.getoption("--submission") is None and not (Path(config.rootpath) / "graders").is_dir():
        return None
    return [f"cnngrade: grading {_option_path(config, '--submission', 'student_templates')}",
            f"cnngrade: backend {_backend(config)}"]


def _backend(config: pytest.Config) -> str:
    """Which backend runs the submission, in words (the report header and the score section say it)."""
    if _limits_key in config.stash:
        from cnngrade.isolated import sandbox

        return f"isolated (the submission runs in a sandbox: {sandbox.detect().description})"
    return "in-process (the submission's code runs in the grading process, unsandboxed: for trusted code only)"


class ScoreCollector:
    """Collects every check's outcome, prints the score table, writes results.json."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.board = Scoreboard()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        info = getattr(report, "cnngrade", None)
        if info is None:
            return
        name, title, points = info
        if report.skipped and isinstance(report.longrepr, tuple):
            output = str(report.longrepr[2]).removeprefix("Skipped: ")
        else:
            output = report.longreprtext if report.failed else ""
        self.board.record(report.nodeid, name, title, points, report.outcome, output)

    def pytest_terminal_summary(self, terminalreporter) -> None:  # noqa: ANN001 - pytest's TerminalReporter
        if not self.board.results:
            return
        terminalreporter.section("cnngrade score")
        terminalreporter.write_line(f"Backend: {_backend(self.config)}")
        for line in self.board.table():
            terminalreporter.write_line(line, bold=line.startswith("Score"))

    def pytest_sessionfinish(self) -> None:
        target = self.config.getoption("--results-json")
        if target and self.board.results:
            self.board.write_json(Path(target))
