"""`cnngrade release`: templates generated from the reference, and kept in step with it."""

from __future__ import annotations

import nbformat
import pytest

from cnngrade.commands import main
from cnngrade.lab.config import LabConfig
from cnngrade.lab.release import ReleaseError, blank_solutions, release_files, script_to_notebook
from tests.paths import ROOT


def test_solution_regions_become_not_implemented_at_their_indentation():
    reference = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\ny = 2\n"
    assert blank_solutions(reference) == (
        "def f(x):\n    # TODO: your code here\n    raise NotImplementedError\n\ny = 2\n"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "line 1: BEGIN SOLUTION is never closed"),
        ("x = 1\n### END SOLUTION\n", "line 2: END SOLUTION without BEGIN SOLUTION"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "line 2: BEGIN SOLUTION inside the region opened at line 1"),
    ],
)
def test_malformed_markers_are_reported_with_their_line(text, problem):
    with pytest.raises(ReleaseError, match=problem):
        blank_solutions(text, "lab.py")


def test_notebook_cells_follow_the_percent_markers():
    notebook = script_to_notebook("# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n\n# %%\ny = 2\n")
    assert [(c.cell_type, c.source) for c in notebook.cells] == [
        ("markdown", "# Title\ntext"), ("code", "x = 1"), ("code", "y = 2"),
    ]
    assert [c.id for c in notebook.cells] == ["cell-1", "cell-2", "cell-3"]
    nbformat.validate(notebook)


def test_committed_templates_are_what_release_writes():
    notebooks = LabConfig.load(ROOT / "graders" / "lab.toml").setting("release.notebooks")
    files = release_files(ROOT / "reference", notebooks)
    committed = {p.name for p in (ROOT / "student_templates").iterdir() if p.is_file()}
    assert committed == set(files), "run `cnngrade release`"
    for name, text in files.items():
        assert (ROOT / "student_templates" / name).read_text() == text, f"{name} is stale: run `cnngrade release`"


def test_templates_contain_no_solution(tmp_path):
    for path in (ROOT / "student_templates").glob("*.py"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "nn.Conv2d(1, 10" not in (ROOT / "student_templates" / "lab4_cnn.py").read_text()


def test_release_command_writes_then_checks(tmp_path, capsys):
    out = tmp_path / "templates"
    assert main(["release", f"--reference={ROOT / 'reference'}", f"--out={out}",
                 f"--graders={ROOT / 'graders'}"]) == 0
    assert (out / "lab4_cnn.py").is_file() and (out / "lab4.ipynb").is_file()
    assert main(["release", f"--reference={ROOT / 'reference'}", f"--out={out}",
                 f"--graders={ROOT / 'graders'}", "--check"]) == 0
    (out / "lab4_cnn.py").write_text("edited by hand\n")
    assert main(["release", f"--reference={ROOT / 'reference'}", f"--out={out}",
                 f"--graders={ROOT / 'graders'}", "--check"]) == 1
    assert "lab4_cnn.py differs" in capsys.readouterr().out
