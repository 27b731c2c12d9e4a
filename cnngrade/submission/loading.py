"""Execute a submission's source into a fresh module, without leaving traces behind.

Each load gets a unique module name (``cnngrade_submission_3``), is removed from
``sys.modules`` afterwards, and sees the other files of its directory as importable siblings
(``from pooling import max_pool2d``), loaded the same way and removed afterwards too.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.util
import itertools
import symtable
import sys
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cnngrade.submission.definitions import DEFINITIONS, bound_names, plan_definitions
from cnngrade.submission.errors import LoadError, MissingPart, student_frame
from cnngrade.submission.sources import Source, read_source

_counter = itertools.count(1)


@dataclass
class LoadedModule:
    """A submission file after execution: its namespace and what it could not define."""

    source: Source
    namespace: dict[str, object]
    #: name -> line of a statement the grader skipped that binds it
    skipped_bindings: dict[str, int] = field(default_factory=dict)
    #: name -> why the statement that binds it failed
    failed_bindings: dict[str, str] = field(default_factory=dict)
    #: name -> the module an import that binds it could not import
    failed_imports: dict[str, str] = field(default_factory=dict)
    #: sources of sibling files imported while loading, for tracebacks
    siblings: list[Source] = field(default_factory=list)

    def get(self, name: str) -> object:
        """The object bound to ``name``, or :class:`MissingPart` saying what was found instead."""
        if name in self.namespace:
            return self.namespace[name]
        if name in self.failed_bindings:
            raise MissingPart(
                f"{self.source.path.name} does not define `{name}`: {self.failed_bindings[name]}"
            )
        if name in self.skipped_bindings:
            raise MissingPart(self._skipped_message(name))
        found = sorted(
            k for k, v in self.namespace.items()
            if not k.startswith("_") and isinstance(v, type | types.FunctionType)
        )
        listing = ", ".join(f"`{n}`" for n in found) if found else "no classes or functions"
        raise MissingPart(f"{self.source.path.name} does not define `{name}`; it defines {listing}.")

    def explain(self, exc: BaseException) -> str:
        """``NameError: name 'relu' is not defined (lab4_cnn.py, line 42: `t = relu(t)`)``."""
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        where = self.location(exc)
        if where:
            text += f" ({where})"
        name = getattr(exc, "name", None)
        if isinstance(exc, NameError) and name:
            if name in self.skipped_bindings:
                text += ". " + self._skipped_message(name)
            elif name in self.failed_bindings:
                text += f". The statement that defines `{name}` failed: {self.failed_bindings[name]}"
        return text

    def missing_module(self, exc: BaseException) -> str:
        """The module whose import ``exc`` comes from, or ``""``: its own (an ImportError), or that of the
        failed import that should have bound the name a NameError names."""
        if isinstance(exc, ImportError):
            return exc.name if isinstance(exc.name, str) else ""
        name = getattr(exc, "name", None)
        return self.failed_imports.get(name, "") if isinstance(exc, NameError) and name else ""

    def location(self, exc: BaseException) -> str:
        """Where in the submission ``exc`` was raised: ``lab4_cnn.py, line 42: `t = relu(t)```."""
        by_name = {s.filename: s for s in [self.source, *self.siblings]}
        frame = student_frame(exc.__traceback__, set(by_name))
        if frame is None:
            return ""
        source = by_name[frame.filename]
        line = source.line(frame.lineno)
        return source.where(frame.lineno) + (f": `{line}`" if line else "")

    def _skipped_message(self, name: str) -> str:
        line = self.skipped_bindings[name]
        return (
            f"`{name}` is only defined by {self.source.where(line)} (`{self.source.line(line)}`), "
            "which the grader skips: it runs only imports, definitions and the assignments they "
            f"need. Define `{name}` with a plain top-level assignment."
        )


def load_module(source: Source, wanted: Iterable[str], *, definitions_only: bool = True,
                constants: bool = False) -> LoadedModule:
    """Execute ``source`` in a new module and return its namespace.

    ``constants``: its UPPER_CASE names are wanted too.

    In definitions-only mode (the default) only the statements that ``wanted`` needs run
    (see :mod:`cnngrade.submission.definitions`); otherwise the whole file runs, except its
    ``if __name__ == "__main__":`` block.
    """
    tree = _parse(source)
    module = types.ModuleType(f"cnngrade_submission_{next(_counter)}")
    module.__file__ = source.filename
    loaded = LoadedModule(source, module.__dict__)
    with _registered(module), _siblings_importable(source.path.parent, loaded):
        if definitions_only:
            wanted = {*wanted, *(constant_names(tree) if constants else ())}
            plan = plan_definitions(tree, symtable.symtable(source.text, source.filename, "exec"), wanted)
            loaded.skipped_bindings = plan.skipped_bindings
            for stmt in plan.kept:
                _run_statement(stmt, loaded)
        else:
            try:
                exec(compile(tree, source.filename, "exec"), loaded.namespace)
            except Exception as exc:
                raise LoadError(f"Running {source.path.name} failed: {loaded.explain(exc)}") from None
    return loaded


def constant_names(tree: ast.Module) -> set[str]:
    """The UPPER_CASE names a module binds at top level (the answers of ``answers.py``)."""
    return {n for s in tree.body for n in bound_names(s) if n.isupper()}


def _parse(source: Source) -> ast.Module:
    try:
        return ast.parse(source.text, source.filename)
    except SyntaxError as exc:
        line = source.line(exc.lineno)
        raise LoadError(
            f"Syntax error in {source.where(exc.lineno)}: {exc.msg}" + (f": `{line}`" if line else "")
        ) from None


def _run_statement(stmt: ast.stmt, loaded: LoadedModule) -> None:
    code = compile(ast.Module(body=[stmt], type_ignores=[]), loaded.source.filename, "exec")
    try:
        exec(code, loaded.namespace)
    except (Exception, SystemExit) as exc:
        reason = loaded.explain(exc)
        for name in bound_names(stmt):
            loaded.failed_bindings.setdefault(name, reason)
            if isinstance(exc, ImportError) and isinstance(exc.name, str):
                loaded.failed_imports.setdefault(name, exc.name)


@contextmanager
def _registered(module: types.ModuleType) -> Iterator[None]:
    sys.modules[module.__name__] = module
    try:
        yield
    finally:
        sys.modules.pop(module.__name__, None)


@contextmanager
def _siblings_importable(directory: Path, importer: LoadedModule) -> Iterator[None]:
    """Let the file import ``name`` from ``directory/name.py``, definitions only."""
    finder = _SiblingFinder(directory, importer)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in finder.loaded:
            sys.modules.pop(name, None)


class _SiblingFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, directory: Path, importer: LoadedModule) -> None:
        self.directory = directory
        self.importer = importer
        self.loaded: list[str] = []

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        candidate = self.directory / f"{fullname}.py"
        if "." in fullname or not candidate.is_file() or candidate == self.importer.source.path:
            return None
        self.loaded.append(fullname)
        return importlib.util.spec_from_file_location(fullname, candidate, loader=self)

    def exec_module(self, module: types.ModuleType) -> None:
        source = read_source(Path(module.__file__))
        tree = _parse(source)
        # everything another file may import from it: definitions, imported names, UPPER_CASE constants
        importable = (*DEFINITIONS, ast.Import, ast.ImportFrom)
        wanted = {n for s in tree.body if isinstance(s, importable) for n in bound_names(s)} | constant_names(tree)
        sibling = load_module(source, wanted)
        self.importer.siblings.append(source)
        self.importer.siblings.extend(sibling.siblings)
        module.__dict__.update({k: v for k, v in sibling.namespace.items() if k != "__name__"})
