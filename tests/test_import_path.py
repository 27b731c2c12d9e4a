"""The sandbox sees the grader's whole import path, and an import the grading machine cannot serve is
the machine's fault, never the student's.

Python environments built other ways than the project's ``.venv``: torch found through a ``.pth`` file
that names a folder outside the environment, through ``PYTHONPATH``, or through the user site
(``pip install --user``). Each grades the reference in the sandbox (it lost 10 points, or ended in an
INTERNALERROR, when the sandbox showed only the interpreter's prefixes). A module installed where the
sandbox looks but that a sandboxed Python cannot import stops the grading with no score (exit status 3,
no results.json); a submission that raises ModuleNotFoundError itself is graded as any other.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnngrade.grader.invocation import Runner
from cnngrade.submission.isolated import import_path
from tests.corpus import background
from tests.paths import ROOT
from tests.sandboxes import sandbox_or_skip

#: the checks whose calls import torch modules lazily inside the child (the meta device, autograd)
CHECKS = "test_output_shape or test_every_parameter_gets_gradient or test_to_device_moves_everything"
SITE = sysconfig.get_paths()["purelib"]  # this environment's site-packages: torch, numpy, pytest...
BASE_PYTHON = os.path.join(sys.base_prefix, "bin", "python3")  # an interpreter with none of them


@dataclass
class Run:
    """One grading run: its exit status and output, and the results.json files it wrote, by name."""

    proc: subprocess.CompletedProcess
    results: dict[str, dict]


def grade(python: str, folder: Path, *submissions: Path, env: dict[str, str], out: str) -> Run:
    """``python -m cnngrade grade SUBMISSIONS`` (sandboxed) on :data:`CHECKS`, in ``folder``, its
    results.json files written into ``folder/out``."""
    out = folder / out
    proc = subprocess.run([python, "-m", "cnngrade", "grade", *map(str, submissions),
                           "--results-json", f"{out}/{{name}}.json", "--", "-k", CHECKS],
                          cwd=folder, env={**env, "PATH": os.environ["PATH"]}, capture_output=True, text=True,
                          timeout=600)
    found = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")} if out.is_dir() else {}
    return Run(proc, found)


def _submission(folder: Path, name: str, first_line_of_forward: str) -> Path:
    """The reference's lab4_cnn.py with ``first_line_of_forward`` added to ``Net.forward``."""
    source = (ROOT / "reference" / "lab4_cnn.py").read_text()
    (folder / name).mkdir()
    (folder / name / "lab4_cnn.py").write_text(
        source.replace("    def forward(self, x):\n", f"    def forward(self, x):\n        {first_line_of_forward}\n"))
    return folder / name


@background("import_paths", cost=35)
def grade_in_other_environments(scratch: Path, _warm: Runner) -> dict[str, Run]:
    """The reference graded with torch through a ``.pth`` file, ``PYTHONPATH`` (beside a submission that
    raises ModuleNotFoundError itself) and the user site; and a submission that imports a module the
    sandbox cannot read."""
    sandbox_or_skip()
    reference, runs = ROOT / "reference", {}
    # a virtual environment of its own whose .pth file names this environment's site-packages, outside it
    venv = scratch / "pth-venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (site / "elsewhere.pth").write_text(f"{SITE}\n{ROOT}\n")
    runs["pth"] = grade(str(venv / "bin" / "python"), scratch, reference, env={}, out="pth")
    # PYTHONPATH, with a submission that says it cannot import torch's symbolic shapes (it can)
    liar = _submission(scratch, "liar", "raise ModuleNotFoundError(\"No module named 'torch.fx.experimental."
                       "symbolic_shapes'\", name='torch.fx.experimental.symbolic_shapes')")
    runs["pythonpath"] = grade(BASE_PYTHON, scratch, reference, liar, env={"PYTHONPATH": f"{SITE}:{ROOT}"},
                              out="pythonpath")
    # the user site: a .pth file in it
    user_site = Path(subprocess.run([BASE_PYTHON, "-c", "import site; print(site.getusersitepackages())"],
                                    env={"PYTHONUSERBASE": str(scratch / "user")}, capture_output=True, text=True,
                                    check=True).stdout.strip())
    user_site.mkdir(parents=True)
    (user_site / "elsewhere.pth").write_text(f"{SITE}\n{ROOT}\n")
    runs["user_site"] = grade(BASE_PYTHON, scratch, reference, env={"PYTHONUSERBASE": str(scratch / "user")},
                             out="user_site")
    # a package the grader finds but a sandboxed uid cannot list: its submodule cannot be imported there
    package = scratch / "unreadable" / "envpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub.py").write_text("X = 1\n")
    os.chmod(package, 0o711)
    importer = _submission(scratch, "importer", "import envpkg.sub  # noqa: F401")
    runs["fault"] = grade(BASE_PYTHON, scratch, importer,
                          env={"PYTHONPATH": f"{SITE}:{ROOT}:{scratch / 'unreadable'}"}, out="fault")
    return runs


@pytest.fixture(scope="module")
def runs(corpus) -> dict[str, Run]:
    return corpus.result("import_paths")


@pytest.mark.grades("import_paths")
@pytest.mark.parametrize("how", ["pth", "pythonpath", "user_site"])
def test_the_sandbox_imports_what_the_grader_imports(runs, how):
    run = runs[how]
    reference = run.results.get("reference")
    assert reference is not None, run.proc.stdout[-3000:] + run.proc.stderr[-3000:]
    assert reference["score"] == reference["max_score"] > 0, [t["output"] for t in reference["tests"]]
    assert reference["extra_data"]["backend"].startswith("isolated")


@pytest.mark.grades("import_paths")
def test_a_submission_that_raises_module_not_found_is_graded(runs):
    """It cannot pass itself off as the machine's fault: a clean sandboxed Python imports the module."""
    liar = runs["pythonpath"].results["liar"]
    failed = {t["number"]: t["output"] for t in liar["tests"] if t["status"] == "failed"}
    assert "test_output_shape" in failed
    assert "raised ModuleNotFoundError: No module named 'torch.fx.experimental.symbolic_shapes'" in \
        failed["test_output_shape"]


@pytest.mark.grades("import_paths")
def test_a_module_the_sandbox_cannot_import_stops_the_grading(runs):
    run = runs["fault"]
    assert run.proc.returncode == 3 and run.results == {}, run.proc.stdout[-3000:]
    assert "cnngrade: Grading stopped, no score given: Net.forward on a batch of shape (1, 1, 28, 28) failed " \
           "because the sandbox cannot import the module 'envpkg.sub'" in run.proc.stderr
    assert "No module named 'envpkg.sub'" in run.proc.stderr
    assert "a problem of the grading machine's Python environment, not of the submission" in run.proc.stderr
    assert "Score:" not in run.proc.stdout


def test_extra_entries_leave_out_the_working_directory_and_the_repository(tmp_path, monkeypatch):
    outside, inside_venv = tmp_path / "libs", ROOT / ".venv" / "lib"
    outside.mkdir()
    monkeypatch.chdir(tmp_path)
    path = ["", str(tmp_path), str(outside), str(outside), str(ROOT), str(ROOT / "graders"), str(ROOT.parent),
            str(tmp_path / "missing"), SITE]
    expected = [str(outside.resolve())]
    if inside_venv.is_dir():  # the project's own environment, inside the repository, is the grader's Python
        path.append(str(inside_venv))
        expected.append(str(inside_venv.resolve()))
    assert import_path.extra_entries(path) == expected


def test_installed_means_found_where_the_sandbox_looks():
    visible = [sys.prefix, sys.base_prefix, "/usr"]
    assert import_path.installed("torch.fx.experimental.symbolic_shapes", visible)
    assert import_path.installed("json", visible)
    assert not import_path.installed("no_such_module_anywhere", visible)
    assert not import_path.installed("graders", visible)  # the repository's, which the sandbox never shows
    assert not import_path.installed("os.path; import x", visible)
    assert not import_path.installed("torch", [str(Path(shutil.which("sh")).parent)])
