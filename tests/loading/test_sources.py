"""Reading .py files and notebooks, with errors a student understands."""

from __future__ import annotations

import json

import nbformat
import pytest

from cnngrade.submission.errors import LoadError
from cnngrade.submission.sources import python_of_cell, read_source


def write_notebook(path, cells, version=4):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(c) if not c.startswith("#md") else
                      nbformat.v4.new_markdown_cell(c) for c in cells]
    nbformat.write(notebook, path)
    return path


def test_magics_and_shell_lines_become_pass():
    assert python_of_cell("!pip install torch\n%matplotlib inline\nx = 1") == "pass\npass\nx = 1"
    assert python_of_cell("if True:\n    !ls") == "if True:\n    pass"


def test_python_cell_magics_keep_their_body_and_others_are_dropped():
    assert python_of_cell("%%time\nx = 1") == "pass\nx = 1"
    assert python_of_cell("%%bash\nls -l") is None


def test_notebook_lines_map_back_to_cells(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", ["#md title", "a = 1\nb = 2", "c = 3\nd = 4"])
    source = read_source(path)
    assert source.text.splitlines()[3] == "d = 4"
    assert source.where(4) == "nb.ipynb, cell 3, line 2"
    assert source.where(1) == "nb.ipynb, cell 2, line 1"


def test_python_file_locations(tmp_path):
    path = tmp_path / "lab4_cnn.py"
    path.write_text("x = 1\ny = 2\n")
    assert read_source(path).where(2) == "lab4_cnn.py, line 2"


def test_missing_file(tmp_path):
    with pytest.raises(LoadError, match="Submission file not found"):
        read_source(tmp_path / "nope.py")


def test_broken_notebook_json_says_where(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [\n  {"cell_type": "code",,}\n]}')
    with pytest.raises(LoadError, match=r"broken.ipynb is not a valid notebook: its JSON is broken at line 2"):
        read_source(path)


def test_nbformat_3_is_upgraded(tmp_path):
    path = tmp_path / "old.ipynb"
    cells = [nbformat.v3.new_code_cell(input="x = 41 + 1")]
    notebook = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=cells)])
    path.write_text(nbformat.v3.writes_json(notebook))
    assert read_source(path).text.strip() == "x = 41 + 1"


def test_ancient_notebook_format_is_refused(tmp_path):
    path = tmp_path / "ancient.ipynb"
    path.write_text(json.dumps({"nbformat": 2, "worksheets": []}))
    with pytest.raises(LoadError, match="uses notebook format 2; only formats 3 and 4"):
        read_source(path)


def test_other_file_types_are_refused(tmp_path):
    path = tmp_path / "lab.txt"
    path.write_text("x")
    with pytest.raises(LoadError, match="neither a .py file nor a .ipynb notebook"):
        read_source(path)
