"""Whether a lab.toml can grade anyone: its settings (:mod:`.schema`), and whether they agree.

A lab that lies would charge its own mistake to every student: an ``output`` the grader does not know,
layers whose shapes do not chain, a parameter count its own architecture does not have. Each problem
is ``line N: [table] key = value: what is wrong; the fix``. Agreement, beyond each value's type:

* ``[parts]`` lists the network class (``[net] class``);
* ``[net] output`` fits ``classes`` (1: a binary output), ``[train] loss`` fits the output;
* ``[architecture] layers``: known kinds with options of the right types; shapes that chain from
  ``input_shape`` (``[C, H, W]`` or ``[F]``); ``classes`` values per input at the end; the last layer
  the output's (log_softmax, softmax, sigmoid; a linear layer for logits);
* ``expected_parameters`` (or ``parameter_budget``), ``reference_layers`` and ``min_layers`` agree
  with the architecture; ``input_mean`` / ``input_std`` give one value or one per channel (feature),
  both or neither (neither: features reach Net as they are; images must have them);
* ``[accuracy] dataset`` is a dataset cnngrade knows, with its ``[accuracy.NAME]`` thresholds.

Imports torch (through the layer parsing of :mod:`cnngrade.grader.architecture` and the output kinds
of :mod:`cnngrade.lab.outputs`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cnngrade.grader.architecture import DROPOUTS, Architecture, Layer
from cnngrade.lab.config import ConfigError
from cnngrade.lab.outputs import DEFAULT_OUTPUT, OUTPUTS, OutputKind
from cnngrade.lab.parts import Parts, PartsError
from cnngrade.lab.schema import LAYER_OPTIONS, header, locate, problem, row_for, setting_problems, toml, value_at

#: layers that take ``[C, H, W]`` inputs
SPATIAL = ("conv2d", "max_pool2d", "avg_pool2d")
#: the key that opens each layer's table in ``[architecture] layers``
_LAYER = re.compile(r"(?<![\w.\"'])[\"']?layer[\"']?\s*=")


def lab_problems(data: Mapping[str, Any], text: str) -> list[str]:
    """Every problem of a lab.toml (``data`` parsed from ``text``); none where it can grade."""
    lab = _Lab(data, text)
    found = setting_problems(data, text)
    found += _parts(lab)
    found += _output(lab)
    layers, layer_problems = _layers(lab)
    found += layer_problems
    if layers:
        found += _shapes(lab, layers)
        found += _counts(lab, Architecture(tuple(layers)))
    found += _normalisation(lab)
    found += _dataset(lab)
    return found


@dataclass(frozen=True)
class _Lab:
    data: Mapping[str, Any]
    text: str

    def value(self, key: str) -> Any:
        """The value at ``key`` (dotted) where it is set and of its row's type (a table where rows name
        its keys), else None (a missing or wrong value is the schema's problem, told once)."""
        path = tuple(key.split("."))
        value, row = value_at(self.data, path), row_for(path)
        fits = isinstance(value, Mapping) if row is None else row.type.wrong(value) is None
        return value if value is not None and fits else None

    def problem(self, key: str, what: str, fix: str) -> str:
        """``line N: [table] key = value: what; fix`` for the setting at ``key`` (set)."""
        path = tuple(key.split("."))
        return problem(self.text, path, what, fix, value_at(self.data, path))

    def layer(self, index: int, what: str, fix: str) -> str:
        """``line N: [architecture] layers[i] = { ... }: what; fix``."""
        table = self.data["architecture"]["layers"][index]
        return f"line {_layer_line(self.text, index)}: [architecture] layers[{index}] = {toml(table)}: {what}; {fix}"


def _layer_line(text: str, index: int) -> int | str:
    """The line of the ``index``-th ``layer = ...`` (outside comments) after ``[architecture]``."""
    opened = header(text, ("architecture",))
    found = [match.start() for match in _LAYER.finditer(text, opened.end() if opened else 0)
             if "#" not in text[text.rfind("\n", 0, match.start()) + 1:match.start()]]
    return text.count("\n", 0, found[index]) + 1 if index < len(found) else "?"


def _parts(lab: _Lab) -> list[str]:
    """``[parts]`` and ``[net] class`` as :class:`Parts` reads them, once their values are of their type."""
    parts = lab.value("parts")
    if lab.value("net.class") is None or (parts and any(lab.value(f"parts.{p}") is None for p in parts)):
        return []
    try:
        Parts.from_lab(lab.data)
    except PartsError as exc:
        name, line = locate(lab.text, ("parts",))
        return [f"line {line}: {name}: {exc}" if line != "?" else str(exc)]
    return []


def _kind(lab: _Lab) -> OutputKind | None:
    """The lab's output kind (the default where unset); None where ``[net] output`` names none."""
    net = lab.data.get("net")
    name = net.get("output", DEFAULT_OUTPUT) if isinstance(net, Mapping) else DEFAULT_OUTPUT
    return OUTPUTS.get(name) if isinstance(name, str) else None


def _said(lab: _Lab, kind: OutputKind) -> str:
    """``[net] output = "logits"``, or ``[net] output = "log_softmax", the default``."""
    return f'[net] output = "{kind.name}"' + ("" if lab.value("net.output") else ", the default")


def _output(lab: _Lab) -> list[str]:
    """``[net] output`` fits ``classes``; ``[train] loss`` fits the output."""
    kind, classes, found = _kind(lab), lab.value("net.classes"), []
    if kind is None:
        return []
    said = _said(lab, kind)
    if classes is not None and not kind.fits_classes(classes):
        others = [name for name, other in OUTPUTS.items() if other.fits_classes(classes)]
        choices = " or ".join(f'"{name}"' for name in others)
        if kind.binary:
            found.append(lab.problem("net.output", f"a binary output ({kind.returns}, one value per input) needs "
                                     f"classes = 1, and [net] classes = {classes}",
                                     f"set classes = 1, or output = {choices}"))
        else:
            found.append(lab.problem("net.classes", f"1 class is a binary lab, and Net returns {kind.returns}, one "
                                     f"value per class ({said})",
                                     f"set output = {choices}, or classes to the number of classes"))
    loss = lab.value("train.loss")
    if loss is not None and loss not in kind.losses:
        choices = ", ".join(f'"{name}"' for name in kind.losses)
        found.append(lab.problem("train.loss", f"does not fit what Net returns: {kind.returns} ({said})",
                                 f"use {choices}, or leave loss out (the output's own: {kind.default_loss})"))
    return found


def _layers(lab: _Lab) -> tuple[list[Layer], list[str]]:
    """The architecture's layers, as :class:`Layer` reads them; the problems of their kinds and options
    (no layers where there are any)."""
    tables = lab.value("architecture.layers")
    if tables is None:
        return [], []
    layers, found = [], []
    for i, table in enumerate(tables):
        where = f"line {_layer_line(lab.text, i)}: [architecture] layers[{i}] = {toml(table)}"
        wrong = [f"{name} = {toml(value)} is {what}; use {LAYER_OPTIONS[name]}" for name, value in table.items()
                 if name in LAYER_OPTIONS and (what := LAYER_OPTIONS[name].wrong(value)) is not None]
        try:
            layers.append(Layer.from_table(table, where))
        except ConfigError as exc:
            found.append(str(exc))
        found += [f"{where}: {text}" for text in wrong]
    return ([] if found else layers), found


def _shapes(lab: _Lab, layers: Sequence[Layer]) -> list[str]:
    """Each layer takes what the one before returns, from ``input_shape``; Net returns ``classes``
    values per input; its last layer is the output's."""
    shape, classes = lab.value("net.input_shape"), lab.value("net.classes")
    if shape is None:
        return []
    found: list[str] = []
    for i, layer in enumerate(layers):
        shape, problems = _through(lab, i, layer, list(shape))
        found += problems
        if shape is None:
            return found
    linear = [i for i, layer in enumerate(layers) if layer.kind == "linear"]
    last = len(layers) - 1
    if len(shape) != 1:
        found.append(lab.layer(last, f"Net would return values of shape {shape} per input",
                               f"end with a flatten layer and a linear layer to {classes or 'the classes'}"))
    elif classes is not None and shape[0] != classes:
        at = linear[-1] if linear else last
        out = f"out = {shape[0]}: " if linear else ""
        found.append(lab.layer(at, f"{out}Net would return {shape[0]} values per input, and [net] "
                               f"classes = {classes}", f"set out = {classes}" if linear else
                               f"end with a linear layer to {classes}"))
    kind = _kind(lab)
    if kind is not None and layers[last].kind != (kind.final_layer or "linear"):
        said = _said(lab, kind)
        if kind.final_layer is None:
            found.append(lab.layer(last, f"Net returns {kind.returns}, those of its last linear layer ({said}), "
                                   "and this layer follows it", "remove it, or set output to what Net returns"))
        else:
            found.append(lab.layer(last, f"the last layer is {layers[last].kind}, and Net returns {kind.returns}, "
                                   f"from a last {kind.final_layer} layer ({said})", f'end with {{ layer = '
                                   f'"{kind.final_layer}" }}, or set output to what Net returns'))
    return found


def _through(lab: _Lab, i: int, layer: Layer, shape: list[int]) -> tuple[list[int] | None, list[str]]:
    """The shape layer ``i`` returns for inputs of ``shape`` (None where it cannot take them), and its
    problems; a layer whose ``in`` is wrong returns what its ``out`` says, so the next is judged alone."""
    o, kind = layer.options, layer.kind
    if kind in SPATIAL:
        if len(shape) != 3:
            return None, [lab.layer(i, f"a {kind} layer takes [C, H, W] inputs, and gets {shape}",
                                    "remove it, or set [net] input_shape = [C, H, W]")]
        channels, height, width = shape
        found = []
        if kind == "conv2d" and o["in"] != channels:
            found.append(lab.layer(i, f"in = {o['in']}, and the layer gets {_several(channels, 'channel')} (inputs "
                                   f"of shape {shape})", f"set in = {channels}"))
        kernel, stride = o["kernel"], o["stride"] or o["kernel"]
        padding = o.get("padding", 0)
        after = [(size + 2 * padding - kernel) // stride + 1 for size in (height, width)]
        if min(after) < 1:
            return None, [*found, lab.layer(i, f"its {kernel}x{kernel} kernel does not fit the {height}x"
                                            f"{width} inputs it gets", "use a smaller kernel or more padding")]
        return [o["out"] if kind == "conv2d" else channels, *after], found
    if kind == "flatten":
        return [math.prod(shape)], []
    if kind == "linear" and o["in"] != shape[-1]:
        if len(shape) > 1:
            return [*shape[:-1], o["out"]], [lab.layer(i, f"in = {o['in']}, and the layer gets inputs of "
                                                        f"shape {shape}", 'put { layer = "flatten" } before it')]
        return [o["out"]], [lab.layer(i, f"in = {o['in']}, and the layer gets {_several(shape[0], 'feature')}",
                                      f"set in = {shape[0]}")]
    if kind == "linear":
        return [*shape[:-1], o["out"]], []
    return shape, []


def _counts(lab: _Lab, architecture: Architecture) -> list[str]:
    """The parameter count, ``reference_layers`` and ``min_layers`` agree with the architecture."""
    count, found = sum(math.prod(shape) for shape in architecture.parameter_shapes()), []
    expected, budget = lab.value("net.expected_parameters"), lab.value("net.parameter_budget")
    net = lab.data.get("net")
    if not isinstance(net, Mapping):
        return []  # the schema's problem
    if budget is not None and budget[0] > budget[1]:
        found.append(lab.problem("net.parameter_budget", "its low end is above its high end",
                                 f"write it [{budget[1]}, {budget[0]}]"))
    elif "expected_parameters" not in net and "parameter_budget" not in net:
        name, line = locate(lab.text, ("net",))
        found.append(f"line {line}: {name} has no expected_parameters or parameter_budget; add expected_parameters"
                     f" = {count} (the [architecture] layers' parameters), or parameter_budget = [low, high]")
    elif "expected_parameters" in net and "parameter_budget" in net:
        found.append(lab.problem("net.parameter_budget", "expected_parameters is set too, and wins",
                                 "remove one of them"))
    elif expected is not None and expected != count:
        found.append(lab.problem("net.expected_parameters", f"the [architecture] layers have {count:,} "
                                 "parameters", f"set expected_parameters = {count}, or fix the layers"))
    elif budget is not None and not budget[0] <= count <= budget[1]:
        found.append(lab.problem("net.parameter_budget", f"the [architecture] layers have {count:,} parameters, "
                                 "outside it", "widen the budget, or fix the layers"))
    layers = lab.value("net.reference_layers") or {}
    if layers and all(lab.value(f"net.reference_layers.{name}") is not None for name in layers) \
            and sum(layers.values()) != count:
        found.append(lab.problem("net.reference_layers", f"they add up to {sum(layers.values()):,}, and the "
                                 f"[architecture] layers have {count:,} parameters",
                                 "give each layer's weight and bias count"))
    kinds = [layer.kind for layer in architecture.layers]
    has = {"conv2d": kinds.count("conv2d"), "linear": kinds.count("linear"),
           "dropout": int(any(kind in DROPOUTS for kind in kinds))}
    for kind, wanted in (lab.value("net.min_layers") or {}).items():
        if kind in has and lab.value(f"net.min_layers.{kind}") is not None and wanted > has[kind]:
            found.append(lab.problem(f"net.min_layers.{kind}", f"the [architecture] layers have {has[kind]}: "
                                     "the lab's own Net would fail", f"set {kind} = {has[kind]}, or fix the layers"))
    return found


def _normalisation(lab: _Lab) -> list[str]:
    """``input_mean`` and ``input_std``: one value, or one per channel (feature) of ``input_shape``; both
    or neither, and both for images (features may reach Net as they are)."""
    shape = lab.value("net.input_shape")
    if shape is None:
        return []
    what = "feature" if len(shape) == 1 else "channel"
    net = lab.data["net"]
    given = [key for key in ("input_mean", "input_std") if key in net]
    if len(given) == 1 or (not given and what == "channel"):
        missing = " and ".join(key for key in ("input_mean", "input_std") if key not in net)
        name, line = locate(lab.text, ("net",))
        needs = "images need" if what == "channel" else "input_mean and input_std go together, and need"
        them = "them" if " and " in missing else "it"
        return [f"line {line}: {name} has no {missing}; add {them}: {needs} the mean and standard deviation they are "
                "normalised with (one, or one per channel)"]
    found = []
    for key in given:
        values = lab.value(f"net.{key}")
        count = len(values) if isinstance(values, list) else 1
        if values is not None and count not in (1, shape[0]):
            found.append(lab.problem(f"net.{key}", f"{count} values, and input_shape {shape} has "
                                     f"{_several(shape[0], what)}",
                                     "give 1 value" + (f", or {shape[0]} (one per {what})" if shape[0] > 1 else "")))
    return found


def _several(n: int, thing: str) -> str:
    """``1 channel``, ``3 channels``."""
    return f"{n} {thing}{'s' if n != 1 else ''}"


def _dataset(lab: _Lab) -> list[str]:
    """``[accuracy] dataset`` is a dataset cnngrade knows (or the lab's own), with its thresholds."""
    name = lab.value("accuracy.dataset")
    if name is None:
        return []
    from cnngrade.data.datasets import DATASETS

    own = lab.data.get("datasets")
    known = [*DATASETS, *(own if isinstance(own, Mapping) else ())]
    if name not in known:
        return [lab.problem("accuracy.dataset", "not a dataset cnngrade knows",
                            "use one of " + ", ".join(f'"{k}"' for k in known))]
    if not isinstance(lab.data["accuracy"].get(name), Mapping):
        return [lab.problem("accuracy.dataset", f"lab.toml has no [accuracy.{name}] table (its thresholds)",
                            f"add [accuracy.{name}] with min_accuracy and min_trained_accuracy")]
    return []
