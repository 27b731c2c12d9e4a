"""``cnngrade release``: student templates generated from the reference solutions.

In every ``.py`` file of ``reference/``, each region between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes, at the marker's indentation (as nbgrader does)::

    # TODO: your code here
    raise NotImplementedError

and each line ending in ``### ANSWER`` (``NAME = expression  ### ANSWER``) becomes
``NAME = None  # TODO: your answer``.
The notebooks named in ``[release.notebooks]`` of lab.toml are built from the blanked
scripts: ``# %%`` lines start code cells, ``# %% [markdown]`` lines start markdown cells.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
ANSWER = re.compile(r"^(?P<name>[A-Za-z_]\w*) = .*### ANSWER\s*$")
CELL = re.compile(r"^# %%(?P<markdown>\s*\[markdown\])?")


class ReleaseError(Exception):
    """The reference's solution markers are malformed."""


def blank_solutions(text: str, name: str = "<reference>") -> str:
    """``text`` with every solution region replaced by a TODO and ``raise NotImplementedError``,
    and every ``### ANSWER`` line by ``NAME = None``."""
    out: list[str] = []
    begin_line = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        begin = BEGIN.match(line)
        if begin:
            if begin_line is not None:
                raise ReleaseError(
                    f"{name}, line {number}: BEGIN SOLUTION inside the region opened at line {begin_line}"
                )
            begin_line = number
            indent = begin.group("indent")
            out.append(f"{indent}# TODO: your code here\n{indent}raise NotImplementedError\n")
        elif END.match(line):
            if begin_line is None:
                raise ReleaseError(f"{name}, line {number}: END SOLUTION without BEGIN SOLUTION")
            begin_line = None
        elif begin_line is None:
            answer = ANSWER.match(line)
            if answer:
                line = f"{answer.group('name')} = None  # TODO: your answer\n"
            elif "### ANSWER" in line:
                raise ReleaseError(f"{name}, line {number}: ### ANSWER must end a one-line `NAME = ...` assignment")
            out.append(line)
    if begin_line is not None:
        raise ReleaseError(f"{name}, line {begin_line}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "".join(out)


def script_to_notebook(text: str) -> nbformat.NotebookNode:
    """A notebook whose cells are the ``# %%`` cells of a script, with stable cell ids."""
    cells: list[tuple[bool, list[str]]] = [(False, [])]
    for line in text.splitlines():
        marker = CELL.match(line)
        if marker:
            cells.append((bool(marker.group("markdown")), []))
        else:
            cells[-1][1].append(line)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for markdown, lines in cells:
        body = "\n".join(lines).strip("\n")
        if not body:
            continue
        if markdown:
            cell = nbformat.v4.new_markdown_cell("\n".join(re.sub(r"^# ?", "", ln) for ln in body.splitlines()))
        else:
            cell = nbformat.v4.new_code_cell(body)
        cell.id = f"cell-{len(notebook.cells) + 1}"
        notebook.cells.append(cell)
    return notebook


def release_files(reference: Path, notebooks: dict[str, list[str]]) -> dict[str, str]:
    """The text of every template file, by file name, from the reference directory."""
    files = {
        path.name: blank_solutions(path.read_text(encoding="utf-8"), path.name)
        for path in sorted(reference.glob("*.py"))
    }
    for notebook_name, scripts in notebooks.items():
        missing = [s for s in scripts if s not in files]
        if missing:
            raise ReleaseError(f"notebook {notebook_name} needs {', '.join(missing)}, not in {reference}")
        notebook = script_to_notebook("\n\n".join(files[s] for s in scripts))
        files[notebook_name] = nbformat.writes(notebook) + "\n"
    return files


def stale_files(files: dict[str, str], out: Path) -> list[str]:
    """Names of the files in ``files`` whose text differs from (or is missing in) ``out``."""
    return [name for name, text in files.items()
            if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]


def write_files(files: dict[str, str], out: Path) -> list[str]:
    """Write the stale files into ``out``; return their names."""
    out.mkdir(parents=True, exist_ok=True)
    changed = stale_files(files, out)
    for name in changed:
        (out / name).write_text(files[name], encoding="utf-8")
    return changed
