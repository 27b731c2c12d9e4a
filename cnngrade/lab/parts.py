"""The lab's file contract: which file of a submission holds which graded names.

A submission is a directory holding these files, or one ``.py`` / ``.ipynb`` file holding
some or all of their names (README.md, "What a submission contains").
"""

from __future__ import annotations

#: part (file stem) -> the names graders use from it.
PARTS: dict[str, tuple[str, ...]] = {
    "lab4_cnn": ("Net",),
    "pooling": ("max_pool2d", "avg_pool2d"),
    "conv_math": (
        "conv_output_size", "conv2d_param_count", "linear_param_count", "unfold", "fold", "conv2d_unfold",
    ),
    # the answer constants; which ones the graders ask for comes from the reference's answers.py
    "answers": (),
}

#: the optional trained weights file of a directory submission.
MODEL_FILE = "model.pt"


def part_of(name: str) -> str:
    """The part (file stem) that defines ``name``: answer constants (UPPER_CASE) are in ``answers``."""
    for part, names in PARTS.items():
        if name in names:
            return part
    if name.isupper():
        return "answers"
    raise KeyError(name)
