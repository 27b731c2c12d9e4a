"""The keys a ``lab.toml`` may hold, and the unknown ones a lab has, with their lines.

A misspelt key (``min_acuracy``) would otherwise be ignored and its default used silently:
:func:`unknown_keys` names each key no grader reads, and the line it is on, for ``cnngrade check-lab``
and for every grading run's header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Any key: a table whose keys are the lab's own names (its parts, checks, datasets, functions).
ANY = "*"
#: table -> its known keys: a set, or a dict whose :data:`ANY` entry gives the keys of its tables
#: (``[accuracy.<dataset>]``)
KNOWN: dict[str, Any] = {
    "lab": {"name"},
    "parts": ANY,
    "net": {"class", "expected_parameters", "parameter_budget", "reference_layers", "min_layers", "input_shape",
            "input_mean", "input_std", "classes", "batch_sizes", "output"},
    "architecture": {"layers"},
    "points": ANY,
    "visibility": ANY,
    "release": {"notebooks"},
    "train": {"optimizer", "lr", "momentum", "batch_size", "epochs", "max_samples", "schedule", "seed",
              "max_cpu_seconds", "threads"},
    "accuracy": {"dataset": None, "data_root": None, ANY: {"min_accuracy", "min_trained_accuracy"}},
    "speed": {"fps_ratio", "batch_size", "repeats", "warmup", "attempts", "remeasure_within", "min_fps", "seed",
              "output_tolerance"},
    "device": {"cuda_atol"},
    "questions": {"reveal"},
    "from_scratch": {ANY: {"forbidden", "hint"}},
}


def unknown_keys(data: Mapping[str, Any], text: str) -> list[str]:
    """``line N: [table] key`` for each key of ``data`` (parsed from ``text``) that no grader reads."""
    found: list[tuple[str, str, str]] = []  # (the table it is in, the key, how to name it)
    for table, value in data.items():
        known = KNOWN.get(table)
        if known is None:
            found.append(("", table, f"[{table}]"))
        elif known != ANY and isinstance(value, Mapping):
            found.extend(_unknown_in(table, value, known))
    return [f"line {_line_of(text, table, key)}: {where} is not a lab.toml setting" for table, key, where in found]


def _unknown_in(table: str, value: Mapping[str, Any], known: Any) -> list[tuple[str, str, str]]:
    found = []
    for key, item in value.items():
        if key in known:
            continue
        nested = known.get(ANY) if isinstance(known, dict) else None
        if nested is not None and isinstance(item, Mapping):
            found.extend((f"{table}.{key}", k, f"[{table}.{key}] {k}") for k in item if k not in nested)
        else:
            found.append((table, key, f"[{table}] {key}"))
    return found


def _line_of(text: str, table: str, key: str) -> int | str:
    """The line where ``key`` is set (or opens a table) after the header of ``table`` ("" for the
    top level); ``?`` where the scan does not find it (a key set in an inline table, say)."""
    start = 0
    if table:
        header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]", re.M).search(text)
        start = header.end() if header else 0
    name = re.escape(key)
    match = re.compile(rf"^\s*(\[+\s*([\w.-]+\.)?{name}\s*\]+|{name}\s*=)", re.M).search(text, start)
    return text.count("\n", 0, match.start()) + 1 if match else "?"
