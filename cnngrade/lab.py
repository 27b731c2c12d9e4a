"""The lab's file contract: which file of a submission holds which graded names.

A submission is a directory holding these files, or one ``.py`` / ``.ipynb`` file holding
some or all of their names (see DESIGN.md, "The lab").
"""

from __future__ import annotations

#: part (file stem) -> the names graders use from it.
PARTS: dict[str, tuple[str, ...]] = {
    "lab4_cnn": ("Net",),
}

#: the optional trained weights file of a directory submission.
MODEL_FILE = "model.pt"


def part_of(name: str) -> str:
    """The part (file stem) that defines ``name``."""
    for part, names in PARTS.items():
        if name in names:
            return part
    raise KeyError(name)
