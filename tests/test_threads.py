"""torch's thread count in grading runs (cnngrade/threads.py): from the environment, shared by a batch's
workers, and set in runs forked from the warm server as a fresh process would have it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnngrade import threads
from cnngrade.batch.runner import BatchSettings, run_batch


def test_the_thread_count_comes_from_the_environment_else_the_cpus(monkeypatch):
    monkeypatch.setattr(threads, "cpus", lambda: 8)
    assert threads.default_threads({"OMP_NUM_THREADS": "3"}) == 3
    assert threads.default_threads({}) == 8
    assert threads.default_threads({"OMP_NUM_THREADS": "many"}) == 8
    assert [threads.share(workers) for workers in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert threads.thread_env(2) == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}


def test_a_batchs_runs_share_the_cpus_unless_told(monkeypatch, tmp_path):
    monkeypatch.setattr(threads, "cpus", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS")
    settings = BatchSettings(tmp_path / "class", tmp_path / "grades", Path("graders").resolve(), workers=2)
    assert settings.run_threads() == 4
    assert BatchSettings(settings.submissions, settings.out, settings.graders, workers=2, threads=3).run_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert settings.run_threads() == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    # and the grading command is given them
    (settings.submissions / "ada").mkdir(parents=True)
    (settings.submissions / "ada" / "lab4_cnn.py").write_text("")
    seen = []

    def runner(command, *, cwd, env, timeout):
        seen.append(env)
        return subprocess.CompletedProcess(command, 1, "", "no results")

    summary = run_batch(settings, runner)
    assert summary.records["ada"].status == "error"
    assert [{name: env[name] for name in threads.VARIABLES} for env in seen] == [threads.thread_env(4)]


@pytest.mark.parametrize("variable", ["2", None])
def test_a_warm_run_has_the_threads_of_its_own_environment(tmp_path, warm, variable):
    """The warm server imported torch under the suite's OMP_NUM_THREADS=1 (tests/conftest.py)."""
    (tmp_path / "test_count.py").write_text("import torch\n\ndef test_count():\n"
                                            "    print('THREADS', torch.get_num_threads())\n")
    env = {name: value for name, value in os.environ.items() if name not in threads.VARIABLES}
    env.update(threads.thread_env(int(variable)) if variable else {})
    run = warm([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_count.py"],
               cwd=tmp_path, env=env, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"THREADS {int(variable) if variable else threads.cpus()}\n" in run.stdout
