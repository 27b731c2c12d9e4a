"""Overhead of the isolated backend (a sandboxed child process) against the in-process backend.

The issue's target: grading with ``--isolated`` takes under 1.5x the in-process time on the whole
grader suite. Each benchmark runs both backends side by side in one run, interleaved (in-process,
isolated, isolated, in-process, ...) so that the machine's noise hits both alike, and reports
per-backend medians and minima and their ratios in ``extra_info`` (measured, not asserted). Both
backends grade ``reference/``; a benchmark fails when they disagree, so it cannot time a broken run.

Run: ``./run bench -k isolated -s`` (``-s`` shows the one-line summaries). Needs a sandbox; skipped
without one (:func:`test_a_class_graded_with_each_sandbox` needs both the fork server and bubblewrap).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
import torch

from benchmarks.conftest import ROOT
from cnngrade.grader.inputs import image_batch
from cnngrade.grader.invocation import Grade, run_graders, run_graders_on_each
from cnngrade.submission.backends import open_submission
from tests.corpus import NET_GRADERS
from tests.sandboxes import sandbox_or_skip

BACKENDS = {"in-process": False, "isolated": True}
T = TypeVar("T")


@pytest.fixture(scope="module", autouse=True)
def _sandboxed() -> None:
    """Skips the module where the isolated backend finds no sandbox."""
    sandbox_or_skip()


def _time_interleaved(run: Callable[[str], T], times: dict[str, list[float]]) -> dict[str, T]:
    """One round: ``run(backend)`` for each backend in turn, appending its wall time to ``times[backend]``.

    Every other round starts with the isolated backend (in-process, isolated, isolated, in-process,
    ...): a drift of the machine's load then weighs on both alike, and a periodic disturbance
    cannot fall on the same backend's calls in every round.
    """
    results = {}
    order = list(BACKENDS)
    for name in order if len(times[order[0]]) % 2 == 0 else reversed(order):
        start = time.perf_counter()
        results[name] = run(name)
        times[name].append(time.perf_counter() - start)
    return results


def _report(benchmark, label: str, times: dict[str, list[float]], unit: str = "s") -> None:
    """Put each backend's times, median and minimum, the isolated - in-process difference
    (``overhead``) and the isolated / in-process ratio of the medians and of the minima in
    ``benchmark.extra_info``; print a one-line summary. The medians are the figures; the minima, the
    least disturbed runs, tell whether a busy machine skewed them."""
    scale = {"s": 1, "ms": 1000}[unit]
    summary = [f"\n{label} ({len(times['isolated'])} rounds):"]
    for statistic, of in (("median", statistics.median), ("min", min)):
        value = {name: of(t) for name, t in times.items()}
        overhead = scale * (value["isolated"] - value["in-process"])
        ratio = value["isolated"] / value["in-process"]
        benchmark.extra_info.update({f"{name} {statistic} s": v for name, v in value.items()})
        benchmark.extra_info.update({f"{statistic} overhead {unit}": overhead, f"{statistic} ratio": ratio})
        summary.append(f"{statistic} in-process {scale * value['in-process']:.2f} {unit}, isolated "
                       f"{scale * value['isolated']:.2f} {unit}, overhead {overhead:+.2f} {unit}, ratio {ratio:.2f}x;")
    benchmark.extra_info.update({f"{name} times s": t for name, t in times.items()})
    print(" ".join(summary).rstrip(";"))


@pytest.mark.parametrize(
    ("options", "rounds"),
    [pytest.param((), 2, id="whole suite"), pytest.param(("-k", "not test_learns"), 3, id="without training")],
)
@pytest.mark.benchmark(group="isolated overhead: grader suite")
def test_grader_suite_overhead(benchmark, options: tuple[str, ...], rounds: int):
    """Wall time of ``pytest graders/ --submission reference/`` (a fresh process, as ``cnngrade grade``
    runs it) without and with ``--isolated``; one benchmark round grades once with each backend.

    The "without training" variant leaves out ``test_learns`` (training the Net: seconds of
    computation in one call), so the backend's per-call and startup costs weigh more there.
    """
    times: dict[str, list[float]] = {name: [] for name in BACKENDS}
    grades: list[dict[str, Grade]] = []

    def grade(backend: str) -> Grade:
        backend_options = ("--isolated",) if BACKENDS[backend] else ()
        return run_graders(ROOT / "reference", ROOT / "graders", *options, *backend_options)

    benchmark.pedantic(lambda: grades.append(_time_interleaved(grade, times)), rounds=rounds, iterations=1)
    _report(benchmark, f"grader suite{' ' + ' '.join(options) if options else ''}", times)
    benchmark.extra_info["scores"] = [{name: f"{g.score:g}/{g.max_score:g}" for name, g in r.items()} for r in grades]
    for result in grades:
        inprocess, isolated = result["in-process"], result["isolated"]
        assert inprocess.checks, f"the in-process run graded nothing:\n{inprocess.stdout}"
        assert (isolated.score, isolated.max_score) == (inprocess.score, inprocess.max_score), (
            f"isolated {isolated.score:g}/{isolated.max_score:g} (failed: {isolated.failed()}) against in-process "
            f"{inprocess.score:g}/{inprocess.max_score:g} (failed: {inprocess.failed()})"
        )


@pytest.mark.benchmark(group="isolated overhead: one call")
def test_child_startup(benchmark):
    """Startup: from opening a handle on ``reference/`` to the answer of its first call (``build_net``),
    per backend. Each isolated open starts a sandbox whose child imports torch and the submission
    (which imports torchvision); in-process only the first open imports what the submission
    imports (unless an earlier benchmark did), later ones reuse it: ``in-process first s`` is that
    first open, the one a grading process pays once."""
    times: dict[str, list[float]] = {name: [] for name in BACKENDS}
    parameters: list[int] = []

    def open_and_build(backend: str) -> None:
        handle = open_submission(ROOT / "reference", isolated=BACKENDS[backend])
        try:
            parameters.append(handle.build_net().total_parameters)
        finally:
            handle.close()

    benchmark.pedantic(lambda: _time_interleaved(open_and_build, times), rounds=3, iterations=1)
    _report(benchmark, "startup to first answer", times)
    benchmark.extra_info["in-process first s"] = times["in-process"][0]
    print(f"first in-process open {times['in-process'][0]:.2f} s")
    assert len(set(parameters)) == 1, f"the backends built different nets: {parameters} parameters"


@pytest.mark.parametrize("batch", [1, 64])
@pytest.mark.benchmark(group="isolated overhead: one call")
def test_forward_round_trip(benchmark, batch: int):
    """One ``handle.forward(x)`` call on a batch of ``batch`` with a warm handle, per backend: the
    isolated call's extra cost is the round trip (encode, resume the paused sandbox, pipe, pause it
    again, decode, check). A batch of 1 shows the fixed cost, 64 (the graders' usual batch) what it weighs."""
    handles = {name: open_submission(ROOT / "reference", isolated=isolated) for name, isolated in BACKENDS.items()}
    try:
        for handle in handles.values():
            handle.build_net()
            handle.forward(image_batch(batch))  # warm-up: the child's first forward pass
        x = image_batch(batch, seed=1)
        times: dict[str, list[float]] = {name: [] for name in BACKENDS}
        outputs: list[dict[str, torch.Tensor]] = []
        benchmark.pedantic(lambda: outputs.append(_time_interleaved(lambda name: handles[name].forward(x), times)),
                           rounds=100, iterations=1)
    finally:
        for handle in handles.values():
            handle.close()
    _report(benchmark, f"forward on a batch of {batch}", times, unit="ms")
    for result in outputs:
        assert torch.allclose(result["in-process"], result["isolated"], atol=1e-5), "the backends disagree"


SANDBOXES = ("fork", "bwrap")


@pytest.mark.benchmark(group="isolated overhead: sandboxes")
def test_a_class_graded_with_each_sandbox(benchmark, tmp_path):
    """Wall time of one ``pytest graders/ --isolated`` run over 6 copies of ``reference/`` (the Net
    checks), with the fork server (torch imported once, each child forked) and with bubblewrap (each
    child a new interpreter importing torch), interleaved; the scores must agree."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    copies = []
    for i in range(6):
        copy = tmp_path / f"student{i}"
        copy.mkdir()
        for file in (ROOT / "reference").glob("*.py"):
            (copy / file.name).write_bytes(file.read_bytes())
        copies.append(copy)
    times: dict[str, list[float]] = {name: [] for name in SANDBOXES}
    scores: dict[str, set[tuple[float, float]]] = {name: set() for name in SANDBOXES}

    def one_round() -> None:
        for name in SANDBOXES if len(times["fork"]) % 2 == 0 else reversed(SANDBOXES):
            start = time.perf_counter()
            grades = run_graders_on_each(copies, ROOT / "graders", "--isolated", files=NET_GRADERS,
                                         env={**os.environ, "CNNGRADE_SANDBOX": name})
            times[name].append(time.perf_counter() - start)
            scores[name] |= {(g.score, g.max_score) for g in grades.values()}

    benchmark.pedantic(one_round, rounds=2, iterations=1)
    medians = {name: statistics.median(t) for name, t in times.items()}
    benchmark.extra_info.update({f"{name} median s": m for name, m in medians.items()})
    benchmark.extra_info["bwrap / fork"] = medians["bwrap"] / medians["fork"]
    print(f"\n6 submissions, Net checks: fork server {medians['fork']:.1f} s, bubblewrap {medians['bwrap']:.1f} s "
          f"({medians['bwrap'] / medians['fork']:.2f}x)")
    assert scores["fork"] == scores["bwrap"] and len(scores["fork"]) == 1, scores
