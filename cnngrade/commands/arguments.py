"""Paths typed on the command line, read once where they are typed.

A path a user passes (``submissions/``, ``--out grades/``, ``--lab ../lab5``) means a place relative to
the folder they typed it in. Each verb's parser reads its paths with :func:`user_path`, so that what it
hands on (to a grading process with another working directory, to a forked run, to a sandbox) is
already absolute and means the same place there.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["user_path", "user_pattern"]


def user_pattern(text: str) -> str:
    """``argparse`` ``type=`` for a path that may hold a placeholder (``out/{name}/results.json``):
    ``~`` expanded and made absolute against the working directory, the placeholder kept."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return os.path.abspath(os.path.expanduser(text))


def user_path(text: str) -> Path:
    """``argparse`` ``type=`` for a path: ``~`` expanded, made absolute against the working directory
    (``os.path.abspath``: ``..`` folded, symbolic links kept as the user named them)."""
    return Path(user_pattern(text))
