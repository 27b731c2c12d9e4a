"""Every setting a ``lab.toml`` may hold, one row each: its type (with its choices or range), what it
means, whether a lab must set it; and the problems of a lab's values, each with its line.

A row: ``Setting("net.classes", Integer(1), "the classes Net tells apart; 1: binary", required=True)``.
``*`` in a key stands for any name (a part, a check, a dataset). A key no row names is not a lab.toml
setting: a misspelt ``min_acuracy`` would otherwise be ignored and its default used silently. Choices
kept in a module that imports torch are named ``"module:ATTRIBUTE"`` and read when a lab is checked, so
that this module stays light.

:func:`setting_problems` checks each value against its row (``line N: [table] key = value: what is
wrong; the fix``); :mod:`cnngrade.lab.validation` checks that the settings agree with each other.
"""

from __future__ import annotations

import difflib
import importlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: in a row's key: any name
ANY = "*"
#: Gradescope's visibility values, for ``[visibility]``
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: the longest value a problem quotes in full
SHOWN = 80


class Type:
    """What a setting's value must be."""

    def wrong(self, value: Any) -> str | None:
        """What is wrong with ``value`` ("not an integer", "below 1"), or None where it fits."""
        raise NotImplementedError

    def describe(self, plural: bool = False) -> str:
        """What a value must be: "an integer of at least 1" (plural: "integers of at least 1")."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.describe()


def _range(low: float | None, high: float | None, open_low: bool = False, open_high: bool = False) -> str:
    """`` of at least 1``, `` from 0 to 1``, `` more than 0``, `` from 0 to below 1``."""
    if low is not None and high is not None:
        return f" from {low:g}{' (excluded)' if open_low else ''} to {'below ' if open_high else ''}{high:g}"
    if low is not None:
        return f" more than {low:g}" if open_low else f" of at least {low:g}"
    if high is not None:
        return f" below {high:g}" if open_high else f" of at most {high:g}"
    return ""


def _out_of_range(value: float, low: float | None, high: float | None, open_low: bool = False,
                  open_high: bool = False) -> str | None:
    if low is not None and (value <= low if open_low else value < low):
        return f"{'not more than' if open_low else 'below'} {low:g}"
    if high is not None and (value >= high if open_high else value > high):
        return f"{'not below' if open_high else 'above'} {high:g}"
    return None


@dataclass(frozen=True)
class Integer(Type):
    """A whole number, ``low`` to ``high`` (inclusive, either optional)."""

    low: int | None = None
    high: int | None = None

    def wrong(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "not an integer"
        return _out_of_range(value, self.low, self.high)

    def describe(self, plural: bool = False) -> str:
        return ("integers" if plural else "an integer") + _range(self.low, self.high)


@dataclass(frozen=True)
class Number(Type):
    """A number (an integer is one), within ``low`` to ``high``; ``open_low`` / ``open_high`` leave a
    bound out."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def wrong(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "not a number"
        return _out_of_range(value, self.low, self.high, self.open_low, self.open_high)

    def describe(self, plural: bool = False) -> str:
        return ("numbers" if plural else "a number") + _range(self.low, self.high, self.open_low, self.open_high)


@dataclass(frozen=True)
class Text(Type):
    """A string."""

    def wrong(self, value: Any) -> str | None:
        return None if isinstance(value, str) else "not a string"

    def describe(self, plural: bool = False) -> str:
        return "strings" if plural else "a string"


@dataclass(frozen=True)
class Name(Type):
    """A Python name (a class, a function, a question)."""

    def wrong(self, value: Any) -> str | None:
        return None if isinstance(value, str) and value.isidentifier() else "not a Python name"

    def describe(self, plural: bool = False) -> str:
        return "Python names (strings)" if plural else "a Python name (a string)"


@dataclass(frozen=True)
class Boolean(Type):
    """``true`` or ``false``."""

    def wrong(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else "not true or false"

    def describe(self, plural: bool = False) -> str:
        return "true or false"


@dataclass(frozen=True)
class Table(Type):
    """A table (an inline one, in a list)."""

    def wrong(self, value: Any) -> str | None:
        return None if isinstance(value, Mapping) else "not a table"

    def describe(self, plural: bool = False) -> str:
        return "tables" if plural else "a table"


@dataclass(frozen=True)
class OneOf(Type):
    """One of ``values``: a tuple, or ``"module:ATTRIBUTE"`` naming one (a dict gives its keys)."""

    values: tuple[str, ...] | str

    @property
    def choices(self) -> tuple[str, ...]:
        if isinstance(self.values, tuple):
            return self.values
        module, attribute = self.values.split(":")
        return tuple(getattr(importlib.import_module(module), attribute))

    def wrong(self, value: Any) -> str | None:
        return None if isinstance(value, str) and value in self.choices else "not a known value"

    def describe(self, plural: bool = False) -> str:
        quoted = [json.dumps(choice) for choice in self.choices]
        return quoted[0] if len(quoted) == 1 else "one of " + ", ".join(quoted)


@dataclass(frozen=True)
class ListOf(Type):
    """A list of ``item``: of one of ``lengths`` items where given, else of at least ``min_length``."""

    item: Type
    lengths: tuple[int, ...] = ()
    min_length: int = 0

    def wrong(self, value: Any) -> str | None:
        if not isinstance(value, list):
            return "not a list"
        if (self.lengths and len(value) not in self.lengths) or len(value) < self.min_length:
            return f"{len(value)} item{'s' if len(value) != 1 else ''}"
        for i, item in enumerate(value):
            what = self.item.wrong(item)
            if what is not None:
                return f"item {i + 1} ({toml(item)}) is {what}"
        return None

    def describe(self, plural: bool = False) -> str:
        count = " or ".join(map(str, self.lengths)) + " " if self.lengths else ""
        count = count or (f"at least {self.min_length} " if self.min_length else "")
        return f"{'lists' if plural else 'a list'} of {count}{self.item.describe(plural=True)}"


@dataclass(frozen=True)
class AnyOf(Type):
    """A value of one of ``types``."""

    types: tuple[Type, ...]

    def wrong(self, value: Any) -> str | None:
        """None where one type fits; else what the type of ``value``'s form says (a list's item...)."""
        whats = [t.wrong(value) for t in self.types]
        if None in whats:
            return None
        return next((what for what in whats if not what.startswith(("not a ", "not an "))), whats[0])

    def describe(self, plural: bool = False) -> str:
        return " or ".join(t.describe(plural) for t in self.types)


@dataclass(frozen=True)
class Setting:
    """One key of lab.toml (``*``: any name), its type, what it means, and whether a lab must set it."""

    key: str
    type: Type
    means: str
    required: bool = False

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))

    def fix(self) -> str:
        """``use an integer of at least 1 (the classes Net tells apart)``."""
        return f"use {self.type} ({self.means})"


POSITIVE = Integer(1)
SHARE = Number(0, 1)
#: the [train] settings, which [lab_recipe] shares: (key, type, means)
_RECIPE = (
    ("optimizer", OneOf("cnngrade.submission.training:OPTIMIZERS"), "the optimizer"),
    ("lr", Number(0, open_low=True), "the learning rate"),
    ("momentum", Number(0, 1, open_high=True), "SGD's momentum"),
    ("batch_size", POSITIVE, "images per training batch"),
    ("epochs", POSITIVE, "passes over the training set"),
    ("max_samples", Integer(0), "stop after this many training images in all; 0: no limit"),
)

#: every setting of lab.toml
SETTINGS: tuple[Setting, ...] = (
    Setting("lab.name", Text(), "the lab's title"),
    Setting("parts.*", ListOf(Name()), "a submission's file (its stem) = the names graders use from it"),
    Setting("net.class", Name(), "the network class, listed in a part", required=True),
    Setting("net.expected_parameters", POSITIVE, "Net's parameter count (or parameter_budget)"),
    Setting("net.parameter_budget", ListOf(Integer(0), lengths=(2,)), "[low, high]: the parameter counts allowed"),
    Setting("net.reference_layers.*", Integer(0), "a layer's parameter count, shown in feedback"),
    Setting("net.min_layers", Table(), "at least this many layers of each kind: conv2d, linear, dropout",
            required=True),
    Setting("net.min_layers.conv2d", Integer(0), "at least this many conv layers"),
    Setting("net.min_layers.linear", Integer(0), "at least this many fully connected layers"),
    Setting("net.min_layers.dropout", Integer(0, 1), "1: Net must have dropout (the grader sees it as "
            "randomness in train mode)"),
    Setting("net.input_shape", ListOf(POSITIVE, lengths=(1, 3)), "one input: [C, H, W] (an image), or [F] "
            "(F features)", required=True),
    Setting("net.input_mean", AnyOf((Number(), ListOf(Number(), min_length=1))),
            "the mean inputs are normalised with, one or one per channel (feature)"),
    Setting("net.input_std", AnyOf((Number(0, open_low=True), ListOf(Number(0, open_low=True), min_length=1))),
            "the standard deviation inputs are normalised with, one or one per channel (feature)"),
    Setting("net.classes", POSITIVE, "the classes Net tells apart; 1: binary", required=True),
    Setting("net.batch_sizes", ListOf(POSITIVE, min_length=1), "the batch sizes of the forward checks",
            required=True),
    Setting("net.output", OneOf("cnngrade.lab.outputs:OUTPUTS"), "what Net returns; log_softmax unless set"),
    Setting("architecture.layers", ListOf(Table(), min_length=1), "Net's layers, in order, one table each",
            required=True),
    Setting("points.*", Number(0), "a check's points, by its name"),
    Setting("visibility.*", OneOf(VISIBILITIES), "a check's Gradescope visibility"),
    Setting("release.notebooks.*", ListOf(Text()), "a notebook = the blanked scripts it is built from"),
    *(Setting(f"train.{key}", kind, f"the harness's recipe: {means}") for key, kind, means in _RECIPE),
    Setting("train.loss", OneOf("cnngrade.lab.outputs:LOSSES"), "the harness's recipe: the loss; the "
            "output's own unless set"),
    Setting("train.schedule", OneOf("cnngrade.submission.training:SCHEDULES"), "the learning rate's schedule"),
    Setting("train.seed", Integer(0), "the seed of the harness's training"),
    Setting("train.max_cpu_seconds", Number(0), "CPU seconds training may take; 0: no limit"),
    Setting("train.threads", POSITIVE, "torch threads while training"),
    *(Setting(f"lab_recipe.{key}", kind, f"the course's own recipe: {means}") for key, kind, means in _RECIPE),
    Setting("accuracy.dataset", Text(), "the dataset of the accuracy checks"),
    Setting("accuracy.data_root", Text(), "where the dataset is, relative to lab.toml"),
    Setting("accuracy.*.min_accuracy", SHARE, "the accuracy Net must reach with the harness's recipe",
            required=True),
    Setting("accuracy.*.min_trained_accuracy", SHARE, "the accuracy a submitted model.pt must reach",
            required=True),
    Setting("datasets.*.file", Text(), "the lab's own dataset: its .csv or .npz, relative to the lab's folder",
            required=True),
    Setting("datasets.*.sha256", Text(), "the sha256 of the dataset's file (sha256sum prints it)", required=True),
    Setting("datasets.*.label", Text(), "a CSV dataset's column of labels; label unless set"),
    Setting("datasets.*.split", Text(), "a CSV dataset's column saying train or test; split unless set"),
    Setting("datasets.*.class_names", ListOf(Text()), "the names of the labels 0, 1, ..., in messages"),
    Setting("speed.fps_ratio", Number(0, open_low=True), "Net's speed over the reference's, at least",
            required=True),
    Setting("speed.batch_size", POSITIVE, "images per timed call", required=True),
    Setting("speed.repeats", POSITIVE, "timed rounds per measurement (one call of each Net per round)", required=True),
    Setting("speed.warmup", Integer(0), "rounds before the timed ones", required=True),
    Setting("speed.attempts", POSITIVE, "measurements at most"),
    Setting("speed.min_fps.cpu", Number(0), "images per second on the CPU, at least"),
    Setting("speed.min_fps.cuda", Number(0), "images per second on CUDA, at least"),
    Setting("speed.seed", Integer(0, 2**63 - 1), "the seed of the timed weights and batches"),
    Setting("speed.output_tolerance", Number(0, open_low=True), "the largest difference allowed in Net's "
            "outputs while timing"),
    Setting("device.cuda_atol", Number(0, open_low=True), "the largest difference allowed between CPU and CUDA "
            "outputs", required=True),
    Setting("questions.reveal", AnyOf((OneOf(("all",)), ListOf(Name()))), "the questions whose answers "
            "feedback may show"),
    Setting("from_scratch.*.forbidden", ListOf(Text()), "the operators a part's functions may not run",
            required=True),
    Setting("from_scratch.*.hint", Text(), "what a part's functions may use instead", required=True),
)

#: the type of each option of an ``[architecture]`` layer (cnngrade/grader/architecture.py says which kind
#: takes which)
LAYER_OPTIONS: dict[str, Type] = {"in": POSITIVE, "out": POSITIVE, "kernel": POSITIVE, "stride": POSITIVE,
                                  "padding": Integer(0), "bias": Boolean(), "p": Number(0, 1, open_high=True),
                                  "dim": Integer()}


def _matches(pattern: Sequence[str], path: Sequence[str]) -> bool:
    return len(pattern) == len(path) and all(p in (ANY, key) for p, key in zip(pattern, path, strict=True))


def row_for(path: Sequence[str]) -> Setting | None:
    """The row of the setting at ``path``: the one naming it (``net.output``) before one that names it
    with ``*``."""
    rows = [row for row in SETTINGS if _matches(row.path, path)]
    return min(rows, key=lambda row: row.path.count(ANY), default=None)


def _is_table(path: Sequence[str]) -> bool:
    """Whether some rows' keys go through ``path`` (``speed.min_fps``, ``accuracy.mnist``)."""
    return any(len(row.path) > len(path) and _matches(row.path[:len(path)], path) for row in SETTINGS)


def setting_problems(data: Mapping[str, Any], text: str) -> list[str]:
    """Each key no row names, each value that is not its row's type, each required setting missing;
    ``data`` parsed from ``text``."""
    return [*_walk(data, (), text), *_missing(data, text)]


def _walk(table: Mapping[str, Any], path: tuple[str, ...], text: str) -> Iterator[str]:
    for key, value in table.items():
        here = (*path, key)
        row = row_for(here)
        what = row.type.wrong(value) if row is not None else None
        if what is not None:
            yield problem(text, here, what, row.fix(), value)
        elif _is_table(here) and isinstance(value, Mapping):
            yield from _walk(value, here, text)
        elif _is_table(here) and row is None:
            yield problem(text, here, "not a table", _table_fix(here), value)
        elif row is None:
            close = difflib.get_close_matches(key, _names_under(path), n=1)
            yield problem(text, here, "is not a lab.toml setting",
                          f"did you mean {close[0]}?" if close else "remove it (no grader reads it)")


def _table_fix(path: Sequence[str]) -> str:
    """``make it a table of min_accuracy, min_trained_accuracy``, or of names where its keys are any."""
    names = _names_under(path)
    if names:
        return f"make it a table of {', '.join(names)}"
    return f"make it a table: {row_for((*path, ANY)).means}"


def _names_under(path: Sequence[str]) -> list[str]:
    """The names rows give to the settings right below the table at ``path``."""
    return sorted({row.path[len(path)] for row in SETTINGS if len(row.path) > len(path)
                   and _matches(row.path[:len(path)], path) and row.path[len(path)] != ANY})


def _missing(data: Mapping[str, Any], text: str) -> Iterator[str]:
    """The required settings a lab lacks; a missing table once, with the keys it needs."""
    missing_tables: dict[tuple[str, ...], list[str]] = {}
    for row in SETTINGS:
        if not row.required:
            continue
        for parent in _parents(data, row.path[:-1]):
            table = value_at(data, parent)
            if table is None:
                top = next(parent[:i] for i in range(1, len(parent) + 1) if value_at(data, parent[:i]) is None)
                missing_tables.setdefault(top, []).append(".".join(row.path[len(top):]))
            elif isinstance(table, Mapping) and row.path[-1] not in table:
                yield problem(text, (*parent, row.path[-1]), "is missing", f"add it: {row.type} ({row.means})")
    for table, keys in missing_tables.items():
        if len(table) == 1:
            yield f"lab.toml has no [{table[0]}] table; add it, with {', '.join(keys)}"
        else:
            yield problem(text, table, "is missing", f"add it: a table with {', '.join(keys)}")


def _parents(data: Mapping[str, Any], pattern: Sequence[str]) -> list[tuple[str, ...]]:
    """The paths ``pattern`` names in ``data`` (each ``*`` expanded over the tables there)."""
    paths: list[tuple[str, ...]] = [()]
    for part in pattern:
        if part != ANY:
            paths = [(*p, part) for p in paths]
        else:
            paths = [(*p, key) for p in paths if isinstance(value_at(data, p), Mapping)
                     for key, value in value_at(data, p).items() if isinstance(value, Mapping)]
    return paths


def value_at(data: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` in ``data``; None where it is not set."""
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


_NO_VALUE = object()  # problem()'s value where the setting has none


def problem(text: str, path: Sequence[str], what: str, fix: str, value: Any = _NO_VALUE) -> str:
    """``line N: [table] key = value: what is wrong; the fix``; without a value, ``line N: [table] key
    what; the fix`` (``what``: "is missing", "is not a lab.toml setting")."""
    name, line = locate(text, path)
    said = f" {what}" if value is _NO_VALUE else f" = {toml(value)}: {what}"
    return f"line {line}: {name}{said}; {fix}"


def toml(value: Any) -> str:
    """``value`` as lab.toml writes it (cut short after :data:`SHOWN` characters)."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, str):
        text = json.dumps(value)
    elif isinstance(value, Mapping):
        text = "{ " + ", ".join(f"{key} = {toml(item)}" for key, item in value.items()) + " }"
    elif isinstance(value, list):
        text = "[" + ", ".join(toml(item) for item in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN - 3] + "..."


def _key_pattern(key: str) -> str:
    return rf"[\"']?{re.escape(key)}[\"']?"


def header(text: str, table: Sequence[str]) -> re.Match[str] | None:
    """Where ``[table]`` (or ``[[table]]``) opens in ``text``, if it does."""
    dotted = r"\s*\.\s*".join(_key_pattern(key) for key in table)
    return re.compile(rf"^[ \t]*\[\[?\s*{dotted}\s*\]\]?[ \t]*(#.*)?$", re.M).search(text)


def locate(text: str, path: Sequence[str]) -> tuple[str, int | str]:
    """How to name the setting at ``path`` (``[net] classes``, ``[accuracy.mnist] min_accuracy``,
    ``[net] min_layers.dropout``) and its line in ``text``: where it is set, where its table opens, or
    ``?`` where neither is written (a key set in an inline table is on its table's line)."""
    depth = next((d for d in range(len(path), 0, -1) if header(text, path[:d])), 0)
    table, rest = tuple(path[:depth]), tuple(path[depth:])
    opened = header(text, table) if table else None
    if not rest:
        return f"[{'.'.join(table)}]", _line(text, opened.start())
    name = f"[{'.'.join(table)}] {'.'.join(rest)}" if table else ".".join(rest)
    start = opened.end() if opened else 0
    following = re.compile(r"^[ \t]*\[", re.M).search(text, start)
    end = following.start() if following else len(text)
    key = re.compile(rf"^[ \t]*{_key_pattern(rest[0])}\s*=", re.M).search(text, start, end)
    if key is not None:
        return name, _line(text, key.start())
    return name, _line(text, opened.start()) if opened else "?"


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
