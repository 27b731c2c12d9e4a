"""The grading plugin: what turns ``graders/`` into a grader (registered by :mod:`cnngrade.plugin`).

* ``--submission PATH`` picks the submission (default ``student_templates/``); given several times, the
  run grades each in turn (every check is parametrized by the submission's name) and keeps a score
  per submission;
* ``--isolated`` runs submissions in sandboxed child processes (:mod:`cnngrade.plugin` has checked
  that a sandbox works); the children start before the checks that need them (the next
  submission's while the current one is graded);
* the ``submission`` fixture is the only way graders reach student code;
* ``@pytest.mark.points(n)`` gives a check its points (``[points]`` in lab.toml overrides);
* ``@pytest.mark.lab_function(name)`` says which lab function a check grades, ``@pytest.mark.uses(name,
  ...)`` which lab functions the graded code may call (an answer: those the reference's answers.py
  computes it with): a check that fails after a function it uses failed its own check says to fix that
  function first;
* feedback (:func:`cnngrade.grader.feedback.is_feedback`: a
  :class:`~cnngrade.submission.errors.SubmissionError`, a failure of ``expect`` / ``fail``) is its
  message alone, shown once: in the score report, not in pytest's FAILURES and short summary (unless
  ``--tb`` is given); any other exception is an internal error, a bug in cnngrade, reported as such
  with a short traceback;
* the score report is the last thing the run prints: the checks that did not pass (every check with
  ``-v`` or ``--all-checks``), each message once, and ``Score: 37/40`` (a line per submission when there
  are several); optionally ``results.json``;
* pytest-benchmark is left out unless a ``--benchmark-...`` option asks for it (its header and table
  are not feedback).
"""

from __future__ import annotations

import random
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cnngrade.data import DataError, DatasetMismatch, Split
from cnngrade.data.lab_data import GradingDataset, grading_dataset
from cnngrade.grader.architecture import Architecture
from cnngrade.grader.checks import check_property
from cnngrade.grader.feedback import (
    DATA,
    MEASURED,
    SELF_REPORTED,
    answer_uses,
    fix_first,
    internal_error,
    is_absent,
    is_feedback,
)
from cnngrade.grader.inputs import Inputs, image_batch, input_noun
from cnngrade.grader.options import wants_benchmark_output
from cnngrade.grader.scoring import Scoreboard
from cnngrade.grader.submissions import Submissions
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.lab.outputs import DEFAULT_OUTPUT
from cnngrade.lab.parts import Parts
from cnngrade.lab.schema import VISIBILITIES
from cnngrade.plugin import LIMITS
from cnngrade.submission import Submission, open_submission
from cnngrade.submission.errors import MachineFault, SubmissionError
from cnngrade.submission.warning_origin import raised_by_submission

SEED = 0

_submissions_key = pytest.StashKey[Submissions]()
_lab_key = pytest.StashKey["LabConfig | ConfigError"]()
#: handles started before the first check that uses them, by key: ``"reference"``, ``"submission:NAME"``
_started_key = pytest.StashKey[dict[str, Submission]]()
#: per submission, the lab functions that failed one of their own checks so far
_failing_key = pytest.StashKey[dict[str, set[str]]]()
#: the lab functions the reference computes each answer with (``answer_uses``), read once
_answer_uses_key = pytest.StashKey[dict[str, tuple[str, ...]]]()
#: a fault of the grading machine that stopped the grading (:class:`MachineFault`): no score is given
_fault_key = pytest.StashKey[str]()
#: the checks left out as not part of the lab, by reason ("parts", "answers", "dataset", "output" (not
#: told), "layer"), the graded names the lab lacks ("names") and the layer kinds it lacks ("layers")
_left_out_key = pytest.StashKey[dict[str, list[str]]]()
#: the dataset of the accuracy checks, chosen when they are collected (:func:`_choose_dataset`)
_dataset_key = pytest.StashKey[GradingDataset]()
REFERENCE = "reference"
#: pytest-benchmark's plugin name: left out of a grading run that asks nothing of it
BENCHMARK_PLUGIN = "benchmark"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the points a grader check is worth")
    config.addinivalue_line("markers", "lab_function(*names): the lab functions a grader check grades")
    config.addinivalue_line("markers", "dataset: a check that needs the lab's dataset (left out, saying so, in a "
                            "lab without [accuracy] dataset)")
    config.addinivalue_line("markers", "output(kind): a check of what the net returns, for a lab whose [net] output "
                            "is that kind (cnngrade.lab.outputs; left out, saying so, in the other labs)")
    config.addinivalue_line("markers", "layer(*kinds): a check of layers of these kinds (left out, saying so, in a lab "
                            "whose [architecture] has none)")
    config.addinivalue_line("markers", "answers: a check of the lab's questions (left out in a lab without them)")
    config.addinivalue_line("markers", "needs(*names): graded names a grader check needs in the lab's [parts] "
                            "(left out, saying so, in a lab without them)")
    config.addinivalue_line("markers", "uses(*names): lab functions the code a grader check runs may call "
                            "(its failure says to fix them first where they failed their own checks)")
    if not wants_benchmark_output(config):
        # its header, table and warnings are not feedback (--benchmark-json FILE brings them back)
        config.pluginmanager.set_blocked(BENCHMARK_PLUGIN)
    refuse_a_lab_that_lies(config)
    submissions = Submissions.from_options(
        config.getoption("--submission") or [_option_path(config, None, "student_templates", "student_templates")],
        config.getoption("--results-json"),
    )
    config.stash[_submissions_key] = submissions
    config.pluginmanager.register(ScoreCollector(config, submissions), "cnngrade-score")
    # isolated: the first submission's child imports torch while this process collects the checks
    if not config.option.collectonly:
        _start(config, f"submission:{submissions.names[0]}")


def refuse_a_lab_that_lies(config: pytest.Config) -> None:
    """A usage error (exit status 4), before any submission is graded, where the run's lab.toml cannot
    be read or has problems (:meth:`LabConfig.validate`): an instructor's mistake is never scored as a
    student's."""
    try:
        lab_config(config).validate()
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def _option_path(config: pytest.Config, name: str | None, in_lab: str, default: str) -> Path:
    """The option ``name``'s path if given; else ``in_lab`` inside ``--lab DIR``; else the project's ``default``."""
    value = config.getoption(name) if name else None
    if value:
        return Path(value)
    lab = config.getoption("--lab")
    return Path(lab) / in_lab if lab else Path(config.rootpath) / default


def reference_dir(config: pytest.Config) -> Path:
    """The lab's reference solution: ``--reference``, else ``reference/`` of ``--lab`` or of the project."""
    return _option_path(config, "--reference", "reference", "reference")


def lab_config(config: pytest.Config) -> LabConfig:
    """The run's lab configuration (``--lab-config``, else ``lab.toml`` of ``--lab``, else ``graders/lab.toml``),
    read once."""
    if _lab_key not in config.stash:
        try:
            path = _option_path(config, "--lab-config", "lab.toml", "graders/lab.toml")
            config.stash[_lab_key] = LabConfig.load(path)
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
        path, definitions_only = reference_dir(config), True
    else:
        name = key.removeprefix("submission:")
        path, definitions_only = config.stash[_submissions_key][name], not config.getoption("--run-all-code")
    return open_submission(path, isolated=LIMITS in config.stash, limits=config.stash.get(LIMITS, None),
                           definitions_only=definitions_only, parts=_parts(config))


def _parts(config: pytest.Config) -> Parts | None:
    """The lab's file contract; None (the default lab's) where lab.toml cannot be read: the checks
    that read it say what is wrong."""
    try:
        return lab_config(config).parts
    except ConfigError:
        return None


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the checks that do not apply to the lab: those that need graded names its ``[parts]``
    does not list (its pooling, say), the questions where it has no answers part, those that need a
    dataset where it has none, those of another ``[net] output`` than the lab's, those of a layer kind
    its ``[architecture]`` lacks (dropout). Each reason is told once, in the score report (:func:`left_out`). Without a
    usable lab.toml, nothing is left out: the checks that read it fail saying what is wrong."""
    try:
        lab = lab_config(config)
        parts = lab.parts
    except ConfigError:
        return
    graded = {name for _, names in parts.files for name in names}
    output = lab.get("net.output", DEFAULT_OUTPUT)
    has = _layers_of(lab)
    without_dataset = not (config.getoption("--dataset") or lab.data.get("accuracy", {}).get("dataset"))
    left: dict[str, list[str]] = config.stash.setdefault(_left_out_key, {})  # why -> the checks' names
    kept, removed = [], []
    for item in items:
        needed = [name for marker in item.iter_markers("needs") for name in marker.args]
        missing = [name for name in needed if name not in graded]
        if missing:
            why = "parts"
            left.setdefault("names", []).extend(n for n in missing if n not in left.get("names", []))
        elif item.get_closest_marker("answers") is not None and parts.answers_part is None:
            why = "answers"
        elif without_dataset and item.get_closest_marker("dataset") is not None:
            why = "dataset"
        elif any(output not in marker.args for marker in item.iter_markers("output")):
            why = "output"
        elif any(not has(*marker.args) for marker in item.iter_markers("layer")):
            why = "layer"
            kinds = [kind for marker in item.iter_markers("layer") for kind in marker.args]
            left.setdefault("layers", []).extend(k for k in kinds if k not in left.get("layers", []))
        else:
            kept.append(item)
            continue
        removed.append(item)
        left.setdefault(why, []).append(item.nodeid)
    if removed:
        items[:] = kept
        config.hook.pytest_deselected(items=removed)


def _layers_of(lab: LabConfig) -> Callable[..., bool]:
    """``has(*kinds)``: whether the lab's ``[architecture]`` has a layer of one of ``kinds``; always
    True where it cannot be read (the checks that read it say what is wrong)."""
    try:
        return Architecture.from_config(lab).has
    except ConfigError:
        return lambda *kinds: True


def left_out(config: pytest.Config) -> list[str]:
    """One line per reason checks were left out as not part of the lab (none for the default lab; the
    output checks of the kinds the lab's Net does not return go unsaid: each lab has its own); a key
    of lab.toml that no grader reads refused the run (:func:`refuse_a_lab_that_lies`)."""
    left = config.stash.get(_left_out_key, {})
    lines = []
    for why, text in (("parts", f"{', '.join(left.get('names', []))} (not in [parts] of lab.toml)"),
                      ("answers", "its questions (no answers part in [parts] of lab.toml)"),
                      ("dataset", "its accuracy (no [accuracy] dataset in lab.toml)"),
                      ("layer", f"its {' or '.join(left.get('layers', []))} (no such layer in [architecture] of "
                                "lab.toml)")):
        if left.get(why):
            count = len(left[why]) // len(config.stash[_submissions_key].names)  # each check runs per submission
            lines.append(f"Not in this lab, left out: {count} check{'s' if count != 1 else ''} of {text}.")
    return lines


def pytest_collection_finish(session: pytest.Session) -> None:
    """With --isolated, start the reference's child if a selected check needs it (the first
    submission's started at configure): each spends seconds importing torch (no student code runs
    before its first call)."""
    _choose_dataset(session)
    fixtures = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    if "reference_submission" in fixtures:
        _start(session.config, REFERENCE)


def _choose_dataset(session: pytest.Session) -> None:
    """Where checks that need the lab's dataset are selected, choose it before any is graded
    (:func:`cnngrade.data.lab_data.grading_dataset`): a dataset that is not this machine's leaves
    them skipped, saying how to get it; a dataset the lab cannot grade on (no thresholds, unknown, a
    lab dataset declared wrong, a folder that holds another) is a usage error, never a student's failure."""
    config = session.config
    items = [item for item in session.items if item.get_closest_marker("dataset") is not None]
    try:
        lab = lab_config(config)
    except ConfigError:
        return  # the checks that read lab.toml say what is wrong
    if not items:
        return
    try:
        chosen = grading_dataset(lab, config.getoption("--dataset"), config.getoption("--data-root"))
        if chosen is not None and chosen.own is not None:
            _fitting(lab, chosen, chosen.load())  # the lab's own file: a wrong one is refused before any grading
    except DatasetMismatch as exc:  # the data given is not the data named
        raise pytest.UsageError(str(exc)) from None
    except DataError as exc:
        raise pytest.UsageError(f"{lab.path}: {exc}") from None
    if chosen is None:
        return
    config.stash[_dataset_key] = chosen
    for item in items if chosen.missing else ():
        item.add_marker(pytest.mark.skip(reason=f"{chosen.title} is not on this machine, so this check is left out "
                                                f"of the score; to grade it, {chosen.missing}"))


def chosen_dataset(config: pytest.Config) -> GradingDataset:
    """The dataset of the run's accuracy checks (chosen when they were collected)."""
    return config.stash[_dataset_key]


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
    inputs = Inputs.from_lab(lab)
    return lambda n, seed=0: image_batch(n, inputs, seed)


@pytest.fixture
def property_check(submission: Submission) -> Callable[[Callable[..., Any], str, str], None]:
    """``property_check(check, name, prop)``: run one property of a cnngrade.properties suite on the
    submission's function ``name`` (:func:`cnngrade.grader.checks.check_property`)."""
    return lambda check, name, prop: check_property(submission, check, name, prop)


@pytest.fixture
def speed_benchmark(request: pytest.FixtureRequest) -> Any:
    """pytest-benchmark's ``benchmark`` fixture where the run asks for benchmark output (``--benchmark-json
    FILE`` or another ``--benchmark-...`` option), else None."""
    if request.config.pluginmanager.get_plugin(BENCHMARK_PLUGIN) is None:
        return None
    return request.getfixturevalue("benchmark")


@pytest.fixture(scope="session")
def dataset(pytestconfig: pytest.Config, lab: LabConfig) -> tuple[Split, Split]:
    """(train, test) splits for the accuracy checks; the test labels never leave this process. The
    dataset is the one chosen at collection (:func:`chosen_dataset`): the lab's own, or cnngrade's,
    looked for under ``--data-root``, else ``[accuracy] data_root`` of lab.toml (relative to its
    folder), then the user cache."""
    chosen = chosen_dataset(pytestconfig)
    try:
        return _fitting(lab, chosen, chosen.load())
    except DataError as exc:
        raise ConfigError(f"{lab.path}: {exc}") from None


def _fitting(lab: LabConfig, chosen: GradingDataset, splits: tuple[Split, Split]) -> tuple[Split, Split]:
    """``splits``, whose inputs have the lab's ``[net] input_shape``; DataError otherwise."""
    shape, wanted = tuple(splits[0].images.shape[1:]), tuple(lab.setting("net.input_shape"))
    if shape != wanted[-len(shape):]:
        what = f"inputs have {shape[0]} features" if splits[0].tabular else f"images are {'x'.join(map(str, shape))}"
        raise DataError(f"the {chosen.name} dataset's {what}, but [net] input_shape is {list(wanted)}.")
    return splits


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


_NET = re.compile(r"(?<![\w.])Net\b")


#: each layer kind of ``[net] min_layers``, in words
LAYER_WORDS = {"conv2d": "conv", "linear": "fully connected", "dropout": "dropout"}


def _in_lab_terms(config: pytest.Config, text: str) -> str:
    """``text`` (a check's title or feedback, which call the network ``Net``) with the lab's class name
    (``[net] class``) for ``Net``, and its number of classes, batch sizes and the layer kinds ``[net]
    min_layers`` asks for (at least one of) for ``{classes}``, ``{batch_sizes}`` and ``{layers}``, and what
    one input is for ``{input}`` / ``{inputs}`` (image, or input for tabular features; in titles: "Output
    has shape (N, {classes})")."""
    try:
        lab = lab_config(config)
        name = lab.parts.net_class
        sizes = [str(n) for n in lab.get("net.batch_sizes", [])]
        classes = str(lab.get("net.classes", "the"))
        layers = [LAYER_WORDS.get(kind, kind) for kind, n in lab.get("net.min_layers", {}).items() if n]
    except ConfigError:
        return text
    listed = ", ".join(sizes[:-1]) + f" and {sizes[-1]}" if len(sizes) > 1 else "".join(sizes)
    text = text.replace("{classes}", classes).replace("{batch_sizes}", listed or "several sizes")
    text = text.replace("{layers}", ", ".join(layers) or "none")
    text = text.replace("{input}", input_noun(lab)).replace("{inputs}", f"{input_noun(lab)}s")
    return text if name == "Net" else _NET.sub(name, text)




def _visibility(config: pytest.Config, check: str) -> str:
    """The check's Gradescope visibility: ``[visibility]`` of lab.toml (by check name), else visible."""
    try:
        value = lab_config(config).get(f"visibility.{check}", "visible")
    except ConfigError:
        return "visible"
    if value not in VISIBILITIES:
        raise ConfigError(f"[visibility] {check} = {value!r} in lab.toml: choose one of {', '.join(VISIBILITIES)}")
    return value


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
    """Feedback becomes its message alone (the longrepr); a grader check's report gets ``cnngrade``:
    ``(submission, check, title, points, outcome, output)``, where ``outcome`` is ``error`` for an
    internal error and ``output`` what the score report and results.json show."""
    report = yield
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, MachineFault):  # not the submission's: stop grading, score nothing
        item.config.stash[_fault_key] = str(exc)
        item.session.shouldstop = "cnngrade: the grading machine failed (not the submission); see below"
        report.longrepr = str(exc)
        return report
    if exc is not None and isinstance(exc, (SubmissionError, ConfigError, DataError)):
        report.longrepr = str(exc)
    elif exc is not None and isinstance(exc, pytest.fail.Exception) and report.failed:
        report.longrepr = exc.msg  # without the exceptions it was raised in handling
    callspec = getattr(item, "callspec", None)
    submissions = item.config.stash[_submissions_key]
    submission = callspec.params.get("submission") if callspec is not None else None
    submission = submission if isinstance(submission, str) else submissions.names[0]
    check, title = _check(item, submission if submissions.several else None)
    title = _in_lab_terms(item.config, title)
    points = _points(item, check.split("[", 1)[0])
    if points is not None:
        outcome, output = report.outcome, ""
        if report.skipped and isinstance(report.longrepr, tuple):
            output = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed and exc is not None and not is_feedback(exc):
            outcome, output = "error", internal_error(exc)
        elif report.failed:
            output = report.longreprtext
            if exc is not None and not is_absent(exc):
                output = _with_dependencies(item, submission, output)
                report.longrepr = output
        if report.passed:
            output = dict(item.user_properties).get(MEASURED, "")
        output = _in_lab_terms(item.config, output)
        if report.failed and outcome != "error":
            report.longrepr = output
        reported = dict(item.user_properties).get(SELF_REPORTED, "")
        figures = {k: v for name, values in item.user_properties if name == DATA for k, v in values.items()}
        report.cnngrade = (submission, check, title, points, outcome, output, reported, figures,
                           _visibility(item.config, check.split("[", 1)[0]))
    return report


def _with_dependencies(item: pytest.Item, submission: str, message: str) -> str:
    """``message`` of a failed check, with :func:`fix_first`'s note where it uses lab functions that
    failed their own checks earlier for this submission; the functions it grades join those."""
    failing = item.config.stash.setdefault(_failing_key, {}).setdefault(submission, set())
    functions = _marker_args(item, "lab_function")
    uses = set(_marker_args(item, "uses"))
    question = getattr(item, "callspec", None) and item.callspec.params.get("question")
    answer = getattr(question, "name", None)
    if isinstance(answer, str):
        uses |= set(_answer_uses(item.config).get(answer, ()))
    note = fix_first(answer or (functions[0] if functions else item.name), (uses & failing) - set(functions),
                     answer=isinstance(answer, str))
    failing.update(functions)
    return f"{message}\n{note}" if note else message


def _marker_args(item: pytest.Item, name: str) -> tuple[str, ...]:
    marker = item.get_closest_marker(name)
    return tuple(marker.args) if marker else ()


def _answer_uses(config: pytest.Config) -> dict[str, tuple[str, ...]]:
    if _answer_uses_key not in config.stash:
        parts = lab_config(config).parts
        answers = reference_dir(config) / f"{parts.answers_part}.py"
        config.stash[_answer_uses_key] = answer_uses(answers, parts.functions) if parts.answers_part else {}
    return config.stash[_answer_uses_key]


def pytest_report_header(config: pytest.Config) -> list[str]:
    submissions = config.stash[_submissions_key]
    shown = ", ".join(str(p) for p in list(submissions.paths.values())[:3])
    more = f" and {len(submissions) - 3} more" if len(submissions) > 3 else ""
    return [f"cnngrade: grading {shown}{more}", f"cnngrade: backend {_backend(config)}"]


def _backend_name(config: pytest.Config) -> str:
    """``isolated (fork)``, ``isolated (bwrap)``, ... or ``in-process``: results.json's ``extra_data``."""
    if LIMITS in config.stash:
        from cnngrade.submission.isolated import sandbox

        return f"isolated ({sandbox.detect().tool})"
    return "in-process"


def _backend(config: pytest.Config) -> str:
    """Which backend runs the submission, in words (the report header and the score section say it)."""
    if LIMITS in config.stash:
        from cnngrade.submission.isolated import sandbox

        return f"isolated (the submission runs in a sandbox: {sandbox.detect().description})"
    return "in-process (the submission's code runs in the grading process, unsandboxed: for trusted code only)"


class ScoreCollector:
    """Collects every check's outcome per submission, prints the score report last, writes results.json.

    Unless ``--tb`` is given, the failures of grader checks are left out of pytest's FAILURES, ERRORS and
    short summary sections (the report shows their messages), and, unless ``-v`` is, the warnings raised
    while they ran are left out of pytest's warnings summary (the report shows each of the submission's
    once: :mod:`cnngrade.submission.warning_origin`; cnngrade's own are not the student's).
    """

    def __init__(self, config: pytest.Config, submissions: Submissions) -> None:
        self.config = config
        self.submissions = submissions
        self.boards = {name: Scoreboard() for name in submissions.names}
        #: seconds each submission's checks took (setup, call and teardown): results.json's execution_time
        self.seconds = dict.fromkeys(submissions.names, 0.0)
        #: the warnings the submission's code raised, as (the check's node id, the warning's first line)
        self.warnings: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        info = getattr(report, "cnngrade", None)
        if info is None:
            return
        submission, name, title, points, outcome, output, reported, figures, visibility = info
        self.seconds[submission] += report.duration
        self.boards[submission].record(report.nodeid, name, title, points, outcome, output, reported, figures,
                                       visibility)

    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage, nodeid: str) -> None:
        """Keep the warnings raised by the submission's code, by origin (not by text)."""
        if nodeid and raised_by_submission(warning_message.message):
            text = warnings.formatwarning(warning_message.message, warning_message.category,
                                          warning_message.filename, warning_message.lineno, line="")
            self.warnings.append((nodeid, text))

    @property
    def every_check(self) -> bool:
        """Whether the report lists every check (``-v`` or ``--all-checks``)."""
        return bool(self.config.getoption("--all-checks")) or self.config.get_verbosity() > 0

    @property
    def pytest_shows_failures(self) -> bool:
        """Whether pytest's own sections show the grader checks' failures: when ``--tb`` asks for them."""
        return self.config.option.tbstyle != "auto"

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter) -> Iterator[None]:  # noqa: ANN001 - pytest's TerminalReporter
        """Around pytest's summary sections: the grader checks' failures and warnings are taken out of
        its statistics while they print, and put back for its final counts."""
        stats = terminalreporter.stats
        graded = {r.nodeid for board in self.boards.values() for r in board.results.values()}
        hidden: dict[str, list] = {}
        if not self.pytest_shows_failures:
            for key in ("failed", "error"):
                hidden[key] = [r for r in stats.get(key, []) if getattr(r, "cnngrade", None)]
        if not self.every_check:
            hidden["warnings"] = [r for r in stats.get("warnings", []) if getattr(r, "nodeid", None) in graded]
        for key, reports in hidden.items():
            stats[key] = [r for r in stats.get(key, []) if all(r is not h for h in reports)]
        try:
            return (yield)
        finally:
            for key, reports in hidden.items():
                stats.setdefault(key, []).extend(reports)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Iterator[None]:
        """After pytest's own summary (its counts line included): results.json, then the score report;
        or, where a fault of the grading machine stopped the grading, neither: its message, on stderr
        too, and exit status 3 (a re-run grades again)."""
        fault = self.config.stash.get(_fault_key, None)
        if fault is not None:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            try:
                return (yield)
            finally:
                self._print_fault(fault)
        try:
            return (yield)
        finally:
            for name, board in self.boards.items():
                target = self.submissions.results_path(name)
                if target is not None and board.results:
                    board.write_json(target, extra_data={"backend": _backend_name(self.config),
                                                         "sandbox": _backend(self.config)},
                                     execution_time=round(self.seconds[name], 3))
            terminal = self.config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                self._print_report(terminal)

    def _print_fault(self, fault: str) -> None:
        """The fault that stopped the grading, in place of a score (nothing was scored)."""
        message = f"Grading stopped, no score given: {fault}"
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.section("cnngrade: the grading machine failed", red=True)
            terminal.write_line(message)
        sys.stderr.write(f"cnngrade: {message}\n")

    def _print_report(self, terminalreporter) -> None:  # noqa: ANN001 - pytest's TerminalReporter
        graded = {name: board for name, board in self.boards.items() if board.results}
        if not graded:
            return
        terminalreporter.section("cnngrade score")
        if self.config.get_verbosity() < 0:  # -q: no header said it
            terminalreporter.write_line(f"Backend: {_backend(self.config)}")
        if not self.submissions.several:
            board = next(iter(graded.values()))
            lines = board.report(every_check=self.every_check, messages=not self.pytest_shows_failures,
                                 width=terminalreporter._tw.fullwidth,
                                 notes=[*left_out(self.config), *self._self_reported_notes(board),
                                        *self._warning_notes()])
            for line in lines:
                terminalreporter.write_line(line, **_markup(line, last=line is lines[-1]))
            return
        for line in left_out(self.config):
            terminalreporter.write_line(line)
        width = max(len(name) for name in graded)
        for name, board in graded.items():
            failed = [r.name for r in board.results.values() if r.status == "failed"]
            errors = [r.name for r in board.internal_errors]
            note = f"  failed: {', '.join(failed)}" if failed else ""
            note += f"  internal errors (bugs in cnngrade): {', '.join(errors)}" if errors else ""
            terminalreporter.write_line(f"{name:<{width}}  {board.score_text()}{note}")

    def _self_reported_notes(self, board: Scoreboard) -> list[str]:
        """The points that rest on what the submission says about itself, when that matters: with the
        isolated backend (grading code nobody trusts). In-process the code is trusted anyway, and
        results.json tags those checks either way."""
        return board.self_reported_notes() if self.config.getoption("--isolated") else []

    def _warning_notes(self) -> list[str]:
        """Each distinct warning the submission's code raised while the checks ran, once: ``Warning (14
        times): lab4_cnn.py:47: UserWarning: Implicit dimension choice for log_softmax has been deprecated. ...``."""
        graded = {r.nodeid for board in self.boards.values() for r in board.results.values()}
        counts: dict[str, int] = {}
        for nodeid, text in self.warnings:
            lines = text.strip().splitlines()
            if nodeid in graded and lines:
                first = re.sub(r"^\S*[/\\]([^/\\:]+:\d+:)", r"\1", lines[0])  # the file's name, not its path
                counts[first] = counts.get(first, 0) + 1
        return [f"Warning{f' ({n} times)' if n > 1 else ''}: {text}" for text, n in counts.items()]


def _markup(line: str, *, last: bool) -> dict[str, bool]:
    """Terminal colours of a report line: failed checks red, skipped ones yellow, the score bold."""
    if last:
        return {"bold": True}
    label = re.match(r"\s*(?:\S+/\S+|-)  (FAIL|ERROR|SKIP)  ", line)
    if label is None:
        return {}
    return {"yellow": True} if label.group(1) == "SKIP" else {"red": True}
