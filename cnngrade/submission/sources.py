"""Read a submission file (``.py`` or ``.ipynb``) into Python source text.

A notebook's code cells are joined into one text; IPython magics (``%time``) and shell lines
(``!pip install``) become ``pass``, and cells run by a non-Python cell magic (``%%bash``) are
dropped. Line numbers in the joined text map back to (cell, line) for error messages.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cnngrade.submission.errors import LoadError

#: Cell magics whose body is still Python code.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})


@dataclass(frozen=True)
class Source:
    """Python source text of one submission file.

    ``cell_starts[i]`` is the first line (1-based) of the text that came from notebook cell
    ``cell_numbers[i]`` (1-based, counting every cell); both are empty for a ``.py`` file.
    """

    path: Path
    text: str
    cell_starts: tuple[int, ...] = ()
    cell_numbers: tuple[int, ...] = ()

    @property
    def filename(self) -> str:
        """The name under which the code is compiled, so tracebacks point at the file."""
        return str(self.path)

    def where(self, lineno: int | None) -> str:
        """``lab4_cnn.py, line 12`` or ``lab4.ipynb, cell 3, line 2``."""
        if lineno is None:
            return self.path.name
        if not self.cell_starts:
            return f"{self.path.name}, line {lineno}"
        i = max(bisect.bisect_right(self.cell_starts, lineno) - 1, 0)
        return f"{self.path.name}, cell {self.cell_numbers[i]}, line {lineno - self.cell_starts[i] + 1}"

    def line(self, lineno: int | None) -> str:
        """The stripped text of line ``lineno``, or ``""``."""
        lines = self.text.splitlines()
        if lineno is None or not 1 <= lineno <= len(lines):
            return ""
        return lines[lineno - 1].strip()


def read_source(path: Path) -> Source:
    """Read ``path`` (``.py`` or ``.ipynb``) as a :class:`Source`, or raise :class:`LoadError`."""
    if not path.is_file():
        raise LoadError(f"Submission file not found: {path}")
    if path.suffix == ".ipynb":
        return _read_notebook(path)
    if path.suffix != ".py":
        raise LoadError(f"{path.name} is neither a .py file nor a .ipynb notebook.")
    try:
        return Source(path, path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise LoadError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None


def _read_notebook(path: Path) -> Source:
    raw = path.read_text(encoding="utf-8", errors="replace")
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LoadError(
            f"{path.name} is not a valid notebook: its JSON is broken at line {exc.lineno}, "
            f"column {exc.colno} ({exc.msg}). Re-save it from Jupyter."
        ) from None
    try:
        version = json.loads(raw).get("nbformat")
        if not isinstance(version, int) or version < 3:
            raise LoadError(
                f"{path.name} uses notebook format {version!r}; only formats 3 and 4 can be graded. "
                "Open it in a current Jupyter and save it again."
            )
        notebook = nbformat.reads(raw, as_version=4)
    except LoadError:
        raise
    except Exception as exc:  # nbformat raises many types for malformed notebooks
        raise LoadError(f"{path.name} is not a valid notebook: {exc}") from None
    chunks: list[str] = []
    starts: list[int] = []
    numbers: list[int] = []
    next_line = 1
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        code = python_of_cell(cell.source)
        if code is None:
            continue
        starts.append(next_line)
        numbers.append(number)
        chunks.append(code)
        next_line += code.count("\n") + 1
    return Source(path, "\n".join(chunks) + "\n", tuple(starts), tuple(numbers))


def python_of_cell(cell: str) -> str | None:
    """The Python code of a notebook cell: magics and shell lines become ``pass``.

    Returns None for a cell that a non-Python cell magic runs (``%%bash``, ``%%html``, ...).
    """
    lines = cell.splitlines()
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split(maxsplit=1)[0] if lines[0][2:].strip() else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None
        lines[0] = "pass"
    kept = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass"
        kept.append(line)
    return "\n".join(kept)
