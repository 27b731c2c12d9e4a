"""docs/properties.md shows what runs: its Python example prints the table the page shows, the failing
table is the one ``cnngrade conform`` prints, and its table of declarations lists every field of
Supports with its default. (Its shell blocks run as typed in tests/test_docs.py.)"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys

import pytest

from cnngrade.commands import main
from cnngrade.grader.checks import LAB_SUPPORTS
from cnngrade.properties import Supports
from cnngrade.properties.supports import declared_value
from tests.doc_blocks import fenced_blocks
from tests.paths import ROOT

PAGE = ROOT / "docs" / "properties.md"
EXAMPLES = ROOT / "docs" / "examples"


def block_texts(language: str) -> list[str]:
    return [block.text for block in fenced_blocks(PAGE) if block.language == language]


def test_the_python_example_prints_the_table_shown(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "my_pool", raising=False)
    monkeypatch.setenv("CNNGRADE_HYPOTHESIS_PROFILE", "ci")
    monkeypatch.setenv("CNNGRADE_MAX_EXAMPLES", "10")  # a table of properties that hold reads the same
    example = block_texts("python")[0]
    assert len(example.splitlines()) < 10
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, "docs/properties.md", "exec"), {})
    assert printed.getvalue().rstrip("\n") == block_texts("text")[0]


def test_the_failing_table_is_what_the_command_prints(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("CNNGRADE_HYPOTHESIS_PROFILE", raising=False)
    status = main(["conform", "docs/examples/first_try.py::max_pool", "--op", "max_pool2d", "--array", "numpy",
                   "--layouts", "NHWC", "--no-tuple-args", "--no-padding", "--no-torch-defaults"])
    assert status == 1
    assert capsys.readouterr().out.rstrip("\n") == block_texts("text")[1]


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Supports)])
def test_every_declaration_is_listed_with_its_default(field):
    default = getattr(Supports(), field)
    assert f"| `{field}` | `{declared_value(default)}` |" in PAGE.read_text()


def test_the_labs_declaration_is_the_one_the_page_names():
    assert f"`{LAB_SUPPORTS.declared()}`" in PAGE.read_text()
