"""The lab's questions: the constants of the reference's ``answers.py`` marked ``### ANSWER``.

The ``#:`` comment lines just above a constant are its prompt::

    #: Question 6a: the output of 2x2 max pooling with stride 2 on Q6_INPUT, ...
    Q6A_MAX_POOL = max_pool2d(Q6_INPUT, 2).flatten().tolist()  ### ANSWER

A student's answer counts in any form of the same value (:func:`same_answer`). Feedback on a wrong
answer shows the expected answer's form (:func:`describe`) and its value only for the questions
that ``[questions] reveal`` of lab.toml lists (:func:`revealed`, :func:`verdict`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnngrade.lab.config import ConfigError
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


#: how far a number may be from the expected one and still count (integers must match exactly)
REL_TOL, ABS_TOL = 1e-3, 1e-4
#: longest rendering of a student's answer in feedback
SHOWN_CHARS = 200


def revealed(config: Mapping[str, Any], name: str) -> bool:
    """Whether feedback may show question ``name``'s expected answer: ``[questions] reveal`` of lab.toml
    lists it, or is ``"all"``. Answers are hidden by default.

    Raises:
        ConfigError: ``reveal`` is neither ``"all"`` nor a list of names, or the table still has the
            old ``hidden`` key.
    """
    table = config.get("questions", {})
    if "hidden" in table:
        raise ConfigError("[questions] hidden is no longer read: answers are hidden unless listed in "
                          '[questions] reveal = ["NAME", ...] (or reveal = "all").')
    reveal = table.get("reveal", [])
    if reveal == "all":
        return True
    if not isinstance(reveal, list) or not all(isinstance(n, str) for n in reveal):
        raise ConfigError(f'[questions] reveal must be "all" or a list of question names, not {reveal!r}.')
    return name in reveal


def as_lists(value: Any) -> Any:
    """An answer as plain Python: tensors, numpy arrays, tuples and ``torch.Size`` as (nested) lists,
    0-d tensors and numpy scalars as numbers."""
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [as_lists(v) for v in value]
    return value


def is_number(value: Any) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of a (nested) list of numbers, ``()`` for a number, ``None`` for anything else
    (strings, ragged or mixed lists)."""
    if is_number(value):
        return ()
    if not isinstance(value, list):
        return None
    shapes = {shape_of(v) for v in value}
    if None in shapes or len(shapes) > 1:
        return None
    return (len(value), *(shapes.pop() if shapes else ()))


def flat(value: Any) -> list[Any]:
    """The numbers of a (nested) list, row by row."""
    return [x for v in value for x in flat(v)] if isinstance(value, list) else [value]


def same_number(expected: float, given: float, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    """Integers exactly (7168 and 7168.0 alike), other numbers within tolerance."""
    if isinstance(expected, int):
        return math.isclose(given, expected, rel_tol=1e-12, abs_tol=0.0)
    return math.isclose(expected, given, rel_tol=rel_tol, abs_tol=abs_tol)


def arrangeable(expected_shape: tuple[int, ...], given_shape: tuple[int, ...]) -> bool:
    """Whether numbers of ``given_shape`` count as an answer of ``expected_shape`` read row by row: the
    same shape, or one of the two flat (a list, or a number) and both holding as many numbers."""
    if expected_shape == given_shape:
        return True
    if min(len(expected_shape), len(given_shape)) > 1:
        return False
    return math.prod(expected_shape) == math.prod(given_shape)


def comparable(expected: Any, given: Any) -> bool:
    """Whether ``given`` has a form ``expected`` can be compared with (numbers with numbers, a list of 4
    numbers with a 2x2 list, a string with a string, ...)."""
    expected, given = as_lists(expected), as_lists(given)
    expected_shape, given_shape = shape_of(expected), shape_of(given)
    if expected_shape is not None or given_shape is not None:
        return expected_shape is not None and given_shape is not None and arrangeable(expected_shape, given_shape)
    if isinstance(expected, list) and isinstance(given, list):
        return len(expected) == len(given)
    return type(expected) is type(given)


def same_answer(expected: Any, given: Any, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    """Whether ``given`` answers like ``expected``: numbers within tolerance (integers exactly, 2.0
    answering 2), strings ignoring case and surrounding spaces, lists element by element, whatever
    the container (list, tuple, ``torch.Size``, tensor, numpy array), and a matrix read row by row
    as a flat list or a flat list given as a matrix."""
    expected, given = as_lists(expected), as_lists(given)
    if isinstance(expected, bool) or isinstance(given, bool):
        return expected is given
    expected_shape, given_shape = shape_of(expected), shape_of(given)
    if expected_shape is not None and given_shape is not None:
        return arrangeable(expected_shape, given_shape) and all(
            same_number(e, g, rel_tol, abs_tol) for e, g in zip(flat(expected), flat(given), strict=True))
    if isinstance(expected, str) and isinstance(given, str):
        return re.sub(r"\s+", " ", expected.strip().lower()) == re.sub(r"\s+", " ", given.strip().lower())
    if isinstance(expected, list) and isinstance(given, list):
        return len(expected) == len(given) and all(same_answer(e, g, rel_tol, abs_tol)
                                                   for e, g in zip(expected, given, strict=True))
    if isinstance(expected, dict) and isinstance(given, dict):
        return expected.keys() == given.keys() and all(same_answer(expected[k], given[k], rel_tol, abs_tol)
                                                       for k in expected)
    return False


def _elements(values: list[Any]) -> str:
    """``integers``, ``numbers``, ``strings`` or ``values``: what every element of ``values`` is."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integers"
    if all(is_number(v) for v in values):
        return "numbers"
    if all(isinstance(v, str) for v in values):
        return "strings"
    return "values"


def describe(value: Any, row_by_row: bool = True) -> str:
    """The form of an answer in plain words, without its value: ``an integer``, ``a number``, ``a
    string``, ``a list of 4 numbers``, ``a 2x2 list of numbers (row by row)`` (without ``(row by
    row)`` unless ``row_by_row``), ``a tuple of 3 integers``."""
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "True or False"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return f"a dict with the keys {', '.join(map(repr, value))}"
    if not isinstance(value, (list, tuple, torch.Tensor, np.ndarray)):
        return f"a {type(value).__name__}"
    kind = "tuple" if isinstance(value, tuple) else "list"
    plain = as_lists(value)
    shape = shape_of(plain)
    if shape is None or len(shape) == 1:
        count, elements = len(plain), _elements(plain)
        return f"a {kind} of {count} {elements.removesuffix('s') if count == 1 else elements}"
    size = "x".join(map(str, shape))
    return f"a {size} {kind} of {_elements(flat(plain))}" + (" (row by row)" if row_by_row and len(shape) == 2 else "")


def show(value: Any) -> str:
    """A short rendering of an answer for feedback, numbers to 4 significant digits, cut after
    :data:`SHOWN_CHARS` characters."""
    text = _render(as_lists(value))
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def _render(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return repr(value)


def verdict(name: str, expected: Any, given: Any, reveal: bool) -> str:
    """What a student reads for a wrong answer: what they answered and the expected answer's form, and
    its value only when ``reveal``; the given answer's own form when it differs."""
    answered = show(given) if comparable(expected, given) else f"{show(given)} ({describe(given, row_by_row=False)})"
    if reveal:
        return f"{name} is wrong: you answered {answered}; the expected answer is {show(expected)}."
    return f"{name} is wrong: you answered {answered}; the expected answer (not shown) is {describe(expected)}."
