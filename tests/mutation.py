"""Mutants of the lab's reference code, made from its source text instead of kept as edited copies.

A mutation replaces snippets inside one top-level function of a source file. Every snippet must
occur exactly once in that function, so that a later change to the reference makes the mutation
fail loudly instead of silently leaving a mutant that equals the reference (or that changes the
wrong place).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from types import ModuleType


def _function_span(source: str, function: str) -> tuple[int, int]:
    """The character offsets in ``source`` of the top-level function ``function``: from the start
    of its ``def`` line to the end of its last line.

    Raises:
        AssertionError: ``source`` defines no top-level function ``function``.
    """
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            lines = source.splitlines(keepends=True)
            return sum(map(len, lines[: node.lineno - 1])), sum(map(len, lines[: node.end_lineno]))
    raise AssertionError(f"the source defines no top-level function {function!r}")


def mutate(source: str, function: str, changes: Mapping[str, str]) -> str:
    """``source`` with each ``old -> new`` of ``changes`` applied, in order, inside ``function`` only.

    Snippets are plain text: continuation lines carry their own indentation.

    Raises:
        AssertionError: ``function`` is not defined in ``source``, a change would change nothing,
            or an ``old`` snippet does not occur exactly once in the function (as the changes
            before it left it).
    """
    start, end = _function_span(source, function)
    text = source[start:end]
    for old, new in changes.items():
        assert old != new, f"a change to {function} that changes nothing: {old!r}"
        count = text.count(old)
        assert count == 1, f"{function} contains {old!r} {count} times instead of exactly once"
        text = text.replace(old, new)
    return source[:start] + text + source[end:]


def load_module(source: str, name: str) -> ModuleType:
    """A new module named ``name``, made by executing ``source`` (it is not put in ``sys.modules``)."""
    module = ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module
