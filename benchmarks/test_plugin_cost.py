"""What cnngrade's pytest entry point costs a project that has nothing to do with grading.

Installing cnngrade registers its ``pytest11`` entry point (:mod:`cnngrade.plugin`), so every pytest
run in that environment loads it. The issue's target: a one-test unrelated project runs within 10%
of the time it takes with ``-p no:cnngrade.plugin`` (the old entry point, which imported torch,
the backends and the data layer, took 7.6 s against 2.2 s).

The benchmark writes such a project into a temporary directory (outside the repository) and times
``python -m pytest -q -p no:cacheprovider test_unrelated.py`` there as a fresh process, (a) as is,
the entry point loaded, and (b) with ``-p no:cnngrade.plugin``, side by side in one run, interleaved
(b, a, a, b, b, a, ...) so that the load of a shared machine weighs on both alike. pytest-benchmark
times (a) (``benchmark.pedantic``: its table shows the plugin-loaded run); the baseline runs (b)
happen in the rounds' setup. ``extra_info`` holds both cases' times, medians and minima and the
ratios (a) / (b); the ratio of the medians is the figure. Speed is measured, not asserted.

Asserted, as they do not depend on timing: every run passes and prints nothing from cnngrade; and a
separate verification run of each case, with a probe plugin, shows that (a) loads the entry point
but neither torch nor the grading plugin, and that (b) really leaves the entry point out (the
timed runs themselves carry no probe).

Run: ``./run bench -k plugin_cost -s`` (``-s`` shows the one-line summary).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: the entry point's name (``[project.entry-points.pytest11]``), which ``-p no:NAME`` leaves out
ENTRY_POINT = "cnngrade.plugin"
#: the grading plugin, which the entry point registers only for a grading run
GRADER_PLUGIN = "cnngrade.grader.plugin"
#: timed runs of each case
ROUNDS = 9
#: the issue's target for the ratio of the medians (plugin loaded / left out)
TARGET_RATIO = 1.10

CASES = {"plugin loaded": (), "no:cnngrade.plugin": ("-p", f"no:{ENTRY_POINT}")}
LOADED, LEFT_OUT = CASES

UNRELATED_TEST = '''\
def test_arithmetic():
    assert 1 + 1 == 2
'''

#: loaded with ``-p`` in the verification runs only: what the run imported and registered
PROBE = f'''\
import json
import os
import sys


def pytest_unconfigure(config):
    record = {{
        "torch imported": "torch" in sys.modules,
        "cnngrade modules": sorted(name for name in sys.modules if name.split(".")[0] == "cnngrade"),
        "plugins": {{name: config.pluginmanager.has_plugin(name) for name in ({ENTRY_POINT!r}, {GRADER_PLUGIN!r})}},
    }}
    with open(os.environ["CNNGRADE_PROBE_OUT"], "w") as out:
        json.dump(record, out)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An unrelated one-test project: ``test_unrelated.py`` and a ``pytest.ini`` that pins the rootdir
    there (so no ini file above the temporary directory takes part)."""
    root = tmp_path / "unrelated"
    root.mkdir()
    (root / "test_unrelated.py").write_text(UNRELATED_TEST)
    (root / "pytest.ini").write_text("[pytest]\n")
    return root


def _environment(**extra: str) -> dict[str, str]:
    """This environment without the variables that would change which plugins pytest loads."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    return {**env, **extra}


def _run_pytest(project: Path, case: str, *options: str, env: dict[str, str] | None = None) -> float:
    """Run pytest on the project as a fresh process; return its wall time in seconds. Fails unless the
    one test passed and the output (stdout and stderr) says nothing of cnngrade."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CASES[case], *options,
               "test_unrelated.py"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=project, env=env or _environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0 and "1 passed" in result.stdout, f"{case}: {command}\n{result.stdout}"
    assert "cnngrade" not in result.stdout, f"{case}: the output mentions cnngrade\n{result.stdout}"
    return elapsed


def _probe(project: Path, case: str) -> dict:
    """One verification run of ``case`` with the probe plugin; what it recorded at ``pytest_unconfigure``."""
    probe_dir = project.parent / "probe"
    probe_dir.mkdir(exist_ok=True)
    (probe_dir / "cnngrade_cost_probe.py").write_text(PROBE)
    out = probe_dir / f"{case.replace(':', '_')}.json"
    python_path = os.pathsep.join(filter(None, [str(probe_dir), os.environ.get("PYTHONPATH")]))
    _run_pytest(project, case, "-p", "cnngrade_cost_probe",
                env=_environment(PYTHONPATH=python_path, CNNGRADE_PROBE_OUT=str(out)))
    return json.loads(out.read_text())


def _time_interleaved(benchmark, project: Path, rounds: int) -> dict[str, list[float]]:
    """``rounds`` timed runs of each case, interleaved: round k runs (b, a) when k is even, (a, b) when
    odd, so the sequence is b a a b b a ... The runs (a) are ``benchmark.pedantic``'s target, those
    (b) run in the setup of the next round (or after the last one); each is timed here as well."""
    times: dict[str, list[float]] = {case: [] for case in CASES}
    state = {"round": 0, "pending": False}  # pending: the last round ran (a) first, its (b) is owed

    def baseline() -> None:
        times[LEFT_OUT].append(_run_pytest(project, LEFT_OUT))

    def setup() -> None:
        if state["pending"]:
            baseline()
        if state["round"] % 2 == 0:
            baseline()
        state["pending"] = state["round"] % 2 == 1
        state["round"] += 1

    def loaded() -> None:
        times[LOADED].append(_run_pytest(project, LOADED))

    benchmark.pedantic(loaded, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
    if state["pending"]:
        baseline()
    return times


def _report(benchmark, times: dict[str, list[float]]) -> float:
    """Put each case's times, median and minimum and the ratios (a) / (b) in ``extra_info``; print a
    one-line summary; return the ratio of the medians."""
    summary = [f"\npytest on a one-test unrelated project ({len(times[LOADED])} rounds each):"]
    for statistic, of in (("median", statistics.median), ("min", min)):
        value = {case: of(t) for case, t in times.items()}
        ratio = value[LOADED] / value[LEFT_OUT]
        benchmark.extra_info.update({f"{case} {statistic} s": v for case, v in value.items()})
        benchmark.extra_info[f"{statistic} ratio"] = ratio
        summary.append(f"{statistic} plugin loaded {value[LOADED]:.3f} s, -p no:{ENTRY_POINT} "
                       f"{value[LEFT_OUT]:.3f} s, ratio {ratio:.3f}x;")
    benchmark.extra_info.update({f"{case} times s": t for case, t in times.items()})
    benchmark.extra_info["target ratio"] = TARGET_RATIO
    median_ratio = benchmark.extra_info["median ratio"]
    verdict = "within" if median_ratio <= TARGET_RATIO else "NOT within"
    summary.append(f"the issue's target: within {100 * (TARGET_RATIO - 1):.0f}% of -p no:{ENTRY_POINT} "
                   f"(ratio of medians <= {TARGET_RATIO:.2f}): {verdict} (measured, not asserted)")
    print(" ".join(summary))
    return median_ratio


@pytest.mark.benchmark(group="plugin cost: unrelated project")
def test_plugin_cost_on_unrelated_project(benchmark, project: Path):
    """Wall time of pytest on an unrelated one-test project with cnngrade's entry point loaded against
    ``-p no:cnngrade.plugin``; the entry point imports neither torch nor the grading plugin there."""
    loaded, left_out = _probe(project, LOADED), _probe(project, LEFT_OUT)  # also warm the file cache
    assert loaded["plugins"][ENTRY_POINT], f"the entry point {ENTRY_POINT} was not loaded: {loaded}"
    assert not loaded["torch imported"], f"the entry point imported torch: {loaded['cnngrade modules']}"
    assert not loaded["plugins"][GRADER_PLUGIN], f"the grading plugin was registered: {loaded}"
    assert GRADER_PLUGIN not in loaded["cnngrade modules"], f"the grading plugin was imported: {loaded}"
    assert not left_out["plugins"][ENTRY_POINT], f"-p no:{ENTRY_POINT} left the entry point loaded: {left_out}"
    assert not left_out["cnngrade modules"], f"-p no:{ENTRY_POINT} still imported {left_out['cnngrade modules']}"
    benchmark.extra_info["cnngrade modules imported"] = loaded["cnngrade modules"]
    print(f"\nthe entry point imported {', '.join(loaded['cnngrade modules'])}; torch not imported", end="")

    times = _time_interleaved(benchmark, project, ROUNDS)
    assert all(len(t) == ROUNDS for t in times.values()), {case: len(t) for case, t in times.items()}
    _report(benchmark, times)
