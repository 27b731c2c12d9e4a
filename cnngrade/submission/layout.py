"""Where each part of the lab lives in a submission path.

* a directory: ``<part>.py`` for each part it has; the parts it lacks come from its one
  notebook (``*.ipynb``), if it has exactly one;
* a single ``.py`` or ``.ipynb`` file: every part comes from that file.
"""

from __future__ import annotations

from pathlib import Path

from cnngrade.lab.parts import PARTS
from cnngrade.submission.errors import LoadError, MissingPart


def part_files(submission: Path) -> dict[str, Path]:
    """Map each part the submission contains to the file that holds it."""
    if not submission.exists():
        raise LoadError(f"Submission not found: {submission}")
    if submission.is_file():
        if submission.suffix not in (".py", ".ipynb"):
            raise LoadError(f"{submission.name} is neither a .py file nor a .ipynb notebook.")
        return dict.fromkeys(PARTS, submission)
    files = {part: submission / f"{part}.py" for part in PARTS if (submission / f"{part}.py").is_file()}
    notebooks = sorted(submission.glob("*.ipynb"))
    if len(notebooks) == 1:
        files = {part: files.get(part, notebooks[0]) for part in PARTS}
    return files


def file_for(submission: Path, part: str) -> Path:
    """The file holding ``part``, or :class:`MissingPart` naming what to add."""
    files = part_files(submission)
    if part in files:
        return files[part]
    notebooks = sorted(p.name for p in submission.glob("*.ipynb"))
    extra = ""
    if len(notebooks) > 1:
        extra = f" It has {len(notebooks)} notebooks ({', '.join(notebooks)}); keep only one."
    raise MissingPart(
        f"The submission has no {part}.py (needed for {', '.join(PARTS[part])}).{extra}"
    )
