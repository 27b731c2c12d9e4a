"""Definitions-only mode: which top-level statements of a submission the grader runs.

A lab script or notebook usually trains at import (``model = Net(); train(...)``). The grader
keeps only what the graded names need:

* ``def`` / ``class`` statements, ``from x import *`` and ``from __future__ import ...``, always;
* imports, assignments, ``if`` and ``try`` statements that bind a name the graded names need,
  directly or through other kept code (``import torch.nn as nn`` and ``HIDDEN = 50`` used by
  ``Net``), so that an import only the training code uses (``from torchvision import datasets``,
  seconds of import time) never runs;
* nothing else: expressions, loops, ``with`` blocks and ``if __name__ == "__main__":`` never run.

The names that only a skipped statement binds are remembered, so that a ``NameError`` for
one of them can say which statement the grader skipped.
"""

from __future__ import annotations

import ast
import symtable
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
KEPT_IF_NEEDED = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.If, ast.Try)


def always_kept(stmt: ast.stmt) -> bool:
    """``def`` and ``class`` statements, star imports (they bind names no one can list) and
    ``from __future__`` imports."""
    if isinstance(stmt, ast.ImportFrom):
        return stmt.module == "__future__" or any(alias.name == "*" for alias in stmt.names)
    return isinstance(stmt, DEFINITIONS)


@dataclass
class Plan:
    """The statements to run, in source order, and where skipped statements bound names."""

    kept: list[ast.stmt]
    skipped_bindings: dict[str, int] = field(default_factory=dict)


def is_main_guard(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either operand order)."""
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    test = stmt.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    operands = [test.left, *test.comparators]
    names = [o.id for o in operands if isinstance(o, ast.Name)]
    strings = [o.value for o in operands if isinstance(o, ast.Constant)]
    return names == ["__name__"] and strings == ["__main__"]


def plan_definitions(tree: ast.Module, table: symtable.SymbolTable, wanted: Iterable[str]) -> Plan:
    """Choose the statements of ``tree`` that define ``wanted`` and everything they need."""
    body = [s for s in tree.body if not is_main_guard(s)]
    body_refs = _body_references(table)
    kept_ids = {id(s) for s in body if always_kept(s)}
    needed: set[str] = set(wanted)
    for stmt in body:
        if isinstance(stmt, DEFINITIONS):
            needed |= _definition_time_references(stmt)
    done: set[str] = set()
    while needed - done:
        name = (needed - done).pop()
        done.add(name)
        for stmt in body:
            if name not in bound_names(stmt):
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                needed |= body_refs.get((stmt.name, stmt.lineno), set())
            elif isinstance(stmt, KEPT_IF_NEEDED) and id(stmt) not in kept_ids:
                kept_ids.add(id(stmt))
                needed |= _loaded_names(stmt)
    plan = Plan([s for s in body if id(s) in kept_ids])
    for stmt in tree.body:
        if id(stmt) not in kept_ids:
            for name in bound_names(stmt):
                plan.skipped_bindings.setdefault(name, stmt.lineno)
    return plan


def bound_names(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the module namespace."""
    names: set[str] = set()
    for node in _walk_module_scope(stmt):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _walk_module_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Like :func:`ast.walk`, without entering function, class, lambda or comprehension bodies (a
    definition's decorators, bases, defaults and annotations, evaluated when it runs, are entered)."""
    yield node
    if isinstance(node, (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)):
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        children: list[ast.AST] = list(node.decorator_list)
        if isinstance(node, ast.ClassDef):
            children += [*node.bases, *node.keywords]
        else:
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                         *(a for a in (node.args.vararg, node.args.kwarg) if a is not None)]
            children += [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None),
                         *(a.annotation for a in arguments if a.annotation is not None),
                         *([node.returns] if node.returns is not None else [])]
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        yield from _walk_module_scope(child)


def _loaded_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _definition_time_references(stmt: ast.stmt) -> set[str]:
    """Names read when the ``def``/``class`` statement itself runs (decorators, bases, defaults)."""
    return {
        n.id
        for n in _walk_module_scope(stmt)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _body_references(table: symtable.SymbolTable) -> dict[tuple[str, int], set[str]]:
    """For each top-level function or class: the global names its body (and nested scopes) read."""
    refs: dict[tuple[str, int], set[str]] = {}
    for child in table.get_children():
        refs[(child.get_name(), child.get_lineno())] = _globals_read(child)
    return refs


def _globals_read(table: symtable.SymbolTable) -> set[str]:
    names = {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    for child in table.get_children():
        names |= _globals_read(child)
    return names
