"""The lab's questions: the constants of the reference's ``answers.py`` marked ``### ANSWER``.

The ``#:`` comment lines just above a constant are its prompt::

    #: Question 6a: the output of 2x2 max pooling with stride 2 on Q6_INPUT, ...
    Q6A_MAX_POOL = max_pool2d(Q6_INPUT, 2).flatten().tolist()  ### ANSWER
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnngrade.lab.release import ANSWER


@dataclass(frozen=True)
class Question:
    """One question: the constant that answers it and its prompt."""

    name: str
    prompt: str


def read_questions(answers: Path) -> list[Question]:
    """The questions of an ``answers.py`` in file order."""
    questions = []
    prompt: list[str] = []
    for line in answers.read_text(encoding="utf-8").splitlines():
        if line.startswith("#:"):
            prompt.append(line[2:].strip())
            continue
        match = ANSWER.match(line)
        if match:
            questions.append(Question(match.group("name"), " ".join(prompt)))
        prompt = []
    return questions


def as_lists(value: Any) -> Any:
    """Tensors and tuples as (nested) lists, so that answers of any container type compare."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [as_lists(v) for v in value]
    return value


def same_answer(expected: Any, given: Any, rel_tol: float = 1e-3, abs_tol: float = 1e-4) -> bool:
    """Whether ``given`` answers like ``expected``: numbers within tolerance, strings ignoring case
    and surrounding spaces, lists element by element."""
    expected, given = as_lists(expected), as_lists(given)
    if isinstance(expected, bool) or isinstance(given, bool):
        return expected is given
    if isinstance(expected, (int, float)) and isinstance(given, (int, float)):
        return math.isclose(expected, given, rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(expected, str) and isinstance(given, str):
        return re.sub(r"\s+", " ", expected.strip().lower()) == re.sub(r"\s+", " ", given.strip().lower())
    if isinstance(expected, list) and isinstance(given, list):
        return len(expected) == len(given) and all(same_answer(e, g, rel_tol, abs_tol)
                                                   for e, g in zip(expected, given, strict=True))
    return False


def show(value: Any) -> str:
    """A short rendering of an answer for feedback, numbers to 4 significant digits."""
    value = as_lists(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)
