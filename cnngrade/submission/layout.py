"""Where each part of the lab lives in a submission path.

* a directory: ``<part>.py`` for each part it has; the parts it lacks come from its one
  notebook (``*.ipynb``), if it has exactly one and that notebook defines them;
* a single ``.py`` or ``.ipynb`` file: each part that file defines.

A file *defines* a part when one of its top-level statements binds one of the part's names (for
the answers part: assigns an UPPER_CASE constant), or imports with ``*``; a file that cannot be read or
parsed defines every part (loading it then says what is wrong). A part no file holds is missing:
:func:`file_for` raises :class:`MissingFile` for it, whose message (the same for every check
of that part) says which file to add, and where.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from cnngrade.lab.parts import Parts
from cnngrade.submission.definitions import bound_names
from cnngrade.submission.errors import LoadError, MissingFile
from cnngrade.submission.sources import read_source

#: where the files of the lab's parts come from, for messages
TEMPLATES = "student_templates/"


def part_files(submission: Path, parts: Parts) -> dict[str, Path]:
    """Map each of the lab's ``parts`` the submission contains to the file that holds it."""
    if not submission.exists():
        raise LoadError(f"Submission not found: {submission}")
    if submission.is_file():
        if submission.suffix not in (".py", ".ipynb"):
            raise LoadError(f"{submission.name} is neither a .py file nor a .ipynb notebook.")
        return {part: submission for part in parts if defines(submission, part, parts)}
    own = {part: submission / f"{part}.py" for part in parts if (submission / f"{part}.py").is_file()}
    notebooks = sorted(submission.glob("*.ipynb"))
    notebook = notebooks[0] if len(notebooks) == 1 else None
    return {part: own[part] if part in own else notebook for part in parts
            if part in own or (notebook is not None and defines(notebook, part, parts))}


def defines(file: Path, part: str, parts: Parts) -> bool:
    """Whether ``file`` defines ``part`` (see the module's docstring)."""
    try:
        stat = file.stat()
    except OSError:
        return True
    names = _top_level_names(str(file), stat.st_mtime_ns, stat.st_size)
    if names is None or "*" in names:
        return True
    if part == parts.answers_part:
        return any(name.isupper() and kind == "assigned" for name, kind in names.items())
    return any(name in names for name in parts.names(part))


@lru_cache(maxsize=32)
def _top_level_names(file: str, mtime_ns: int, size: int) -> dict[str, str] | None:
    """The names the top-level statements of ``file`` bind: ``"assigned"`` (by an assignment) or
    ``"other"`` (a definition, an import, ...); None where it cannot be read or parsed. The
    modification time and size key the cache, as a file is asked about on every call into it."""
    try:
        tree = ast.parse(read_source(Path(file)).text)
    except (LoadError, SyntaxError, ValueError, RecursionError, MemoryError, OSError):
        return None
    names: dict[str, str] = {}
    for stmt in tree.body:
        assigned = isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign))
        for name in bound_names(stmt):
            if names.get(name) != "assigned":
                names[name] = "assigned" if assigned else "other"
    return names


def file_for(submission: Path, part: str, parts: Parts) -> Path:
    """The file holding ``part``, or :class:`MissingFile` naming what to add, and where."""
    files = part_files(submission, parts)
    if part in files:
        return files[part]
    raise MissingFile(missing_part_message(submission, part, parts))


def missing_part_message(submission: Path, part: str, parts: Parts) -> str:
    """What a submission lacking ``part`` is told, once for all the checks of that part."""
    names = parts.names(part)
    needed = f"needed for {', '.join(names)}" if names else "the answers to the lab's questions"
    head = f"The submission has no {part}.py ({needed})"
    if len(names) == 1:
        lacks = f"does not define {names[0]}"
    else:
        lacks = "defines none of them" if names else "assigns no answer constant (an UPPER_CASE name)"
    add = f"{part}.py (from {TEMPLATES})"
    if submission.is_file():
        kind = "notebook" if submission.suffix == ".ipynb" else "file"
        return (f"{head}: {submission.name} {lacks}. Hand in a folder: put {add} next to your {kind}, in one "
                f"folder, and grade the folder (pytest graders/ --submission FOLDER).")
    notebooks = sorted(p.name for p in submission.glob("*.ipynb"))
    if len(notebooks) == 1:
        return f"{head}, and {notebooks[0]} {lacks}. Add {add} next to {notebooks[0]}."
    extra = ""
    if notebooks:
        extra = (f" It has {len(notebooks)} notebooks ({', '.join(notebooks)}): keep only one, which supplies "
                 "the parts it defines.")
    return f"{head}. Add {add} to {submission.name or 'the folder'}/.{extra}"
