"""The lab's architecture as data (``[architecture]`` of lab.toml), computed by the grader itself.

A lab's Net is a list of layers::

    layers = [
        { layer = "conv2d", in = 1, out = 10, kernel = 5 },   # weight (out, in, k, k), bias (out,)
        { layer = "max_pool2d", kernel = 2 },                 # stride = kernel unless given
        { layer = "relu" },
        { layer = "dropout2d", p = 0.5 },                     # channel dropout: identity in eval mode
        { layer = "flatten" },                                # (N, C, H, W) -> (N, C*H*W)
        { layer = "linear", in = 320, out = 50 },             # weight (out, in), bias (out,)
        { layer = "dropout", p = 0.5 },
        { layer = "log_softmax" },                            # over dim 1
    ]

On tabular inputs (``input_shape = [F]``) the layers run on ``(N, F)``: ``linear`` layers and
activations directly, ``flatten`` a no-op.

Layer kinds: ``conv2d`` (``in``, ``out``, ``kernel``, ``stride`` 1, ``padding`` 0, ``bias`` true),
``linear`` (``in``, ``out``, ``bias``), ``max_pool2d`` / ``avg_pool2d`` (``kernel``, ``stride``),
``relu``, ``sigmoid``, ``tanh``, ``dropout`` / ``dropout2d`` (``p`` 0.5), ``flatten``,
``log_softmax`` / ``softmax`` (``dim`` 1).

:meth:`Architecture.run` computes the layers with ``torch.nn.functional`` on the grader's own weights
(one tensor per parameter, in order: :meth:`Architecture.parameter_shapes`), in eval mode or in
train mode under ``torch.manual_seed(seed)``: a student's Net with the same layers draws the same
dropout masks from the same seed, so its train-mode output equals this one exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F

from cnngrade.lab.config import ConfigError, LabConfig

PARAMETRIZED = ("conv2d", "linear")
DROPOUTS = ("dropout", "dropout2d")
KINDS = (*PARAMETRIZED, "max_pool2d", "avg_pool2d", "relu", "sigmoid", "tanh", *DROPOUTS, "flatten",
         "log_softmax", "softmax")
#: the options each kind takes, with their defaults (None: required)
OPTIONS: dict[str, dict[str, Any]] = {
    "conv2d": {"in": None, "out": None, "kernel": None, "stride": 1, "padding": 0, "bias": True},
    "linear": {"in": None, "out": None, "bias": True},
    "max_pool2d": {"kernel": None, "stride": None},
    "avg_pool2d": {"kernel": None, "stride": None},
    "dropout": {"p": 0.5},
    "dropout2d": {"p": 0.5},
    "log_softmax": {"dim": 1},
    "softmax": {"dim": 1},
}


@dataclass(frozen=True)
class Layer:
    """One layer of the lab's Net: its kind and options (see the module docstring)."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> Layer:
        kind = table.get("layer")
        if kind not in KINDS:
            raise ConfigError(f"{where}: `layer = {kind!r}` is not a layer kind; known: {', '.join(KINDS)}.")
        allowed = OPTIONS.get(kind, {})
        unknown = set(table) - {"layer"} - set(allowed)
        if unknown:
            raise ConfigError(f"{where}: a {kind} layer takes no {', '.join(sorted(unknown))} "
                              f"(its options: {', '.join(allowed) or 'none'}).")
        missing = [name for name, default in allowed.items() if default is None and name not in table
                   and not (name == "stride" and kind.endswith("pool2d"))]
        if missing:
            raise ConfigError(f"{where}: a {kind} layer needs {', '.join(missing)}.")
        return cls(kind, {**allowed, **{k: v for k, v in table.items() if k != "layer"}})

    @classmethod
    def of(cls, kind: str, **options: Any) -> Layer:
        """A layer of ``kind`` with its default options, and ``options``."""
        return cls(kind, {**OPTIONS.get(kind, {}), **options})

    def parameter_shapes(self) -> list[tuple[int, ...]]:
        """Weight, then bias: conv2d (out, in, k, k) and (out,); linear (out, in) and (out,)."""
        o = self.options
        if self.kind == "conv2d":
            shapes = [(o["out"], o["in"], o["kernel"], o["kernel"])]
        elif self.kind == "linear":
            shapes = [(o["out"], o["in"])]
        else:
            return []
        return shapes + ([(o["out"],)] if o["bias"] else [])

    def apply(self, x: torch.Tensor, weights: Sequence[torch.Tensor], train: bool) -> torch.Tensor:
        """This layer's output for ``x`` (``weights``: its parameter tensors)."""
        o, k = self.options, self.kind
        if k == "conv2d":
            return F.conv2d(x, weights[0], weights[1] if o["bias"] else None, stride=o["stride"], padding=o["padding"])
        if k == "linear":
            return F.linear(x, weights[0], weights[1] if o["bias"] else None)
        if k in ("max_pool2d", "avg_pool2d"):
            return getattr(F, k)(x, o["kernel"], o["stride"] or o["kernel"])
        if k in ("relu", "sigmoid", "tanh"):
            return getattr(torch, k)(x)
        if k in DROPOUTS:  # ``always``: a mistake's variant, dropout left on in eval mode
            return getattr(F, k)(x, o["p"], training=train or o.get("always", False))
        if k == "flatten":
            return x.flatten(1)
        return getattr(F, k)(x, dim=o["dim"])

    def describe(self) -> str:
        """``Conv2d(1 -> 10, kernel 5)``, ``max pooling 2x2``, ``ReLU``, ``channel dropout (p=0.5)``."""
        o, k = self.options, self.kind
        if k == "conv2d":
            extra = "".join(f", {name} {o[name]}" for name, default in (("stride", 1), ("padding", 0))
                            if o[name] != default)
            return f"Conv2d({o['in']} -> {o['out']}, kernel {o['kernel']}{extra}{'' if o['bias'] else ', no bias'})"
        if k == "linear":
            return f"Linear({o['in']} -> {o['out']}{'' if o['bias'] else ', no bias'})"
        if k in ("max_pool2d", "avg_pool2d"):
            stride = o["stride"] or o["kernel"]
            what = "max" if k == "max_pool2d" else "average"
            size = f"{what} pooling {o['kernel']}x{o['kernel']}"
            return size + (f" (stride {stride})" if stride != o["kernel"] else "")
        if k in DROPOUTS:
            what = f"channel dropout (nn.Dropout2d, p={o['p']:g})" if k == "dropout2d" else f"dropout (p={o['p']:g})"
            return what + (" on in eval mode too" if o.get("always") else "")
        if k in ("log_softmax", "softmax"):
            return f"{k} over dim {o['dim']}"
        return {"relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh", "flatten": "flatten"}[k]


@dataclass(frozen=True)
class Architecture:
    """The lab's layers, in order."""

    layers: tuple[Layer, ...]

    @classmethod
    def from_config(cls, lab: LabConfig) -> Architecture:
        tables = lab.setting("architecture.layers")
        if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
            raise ConfigError(f"{lab.path}: `architecture.layers` must be a list of tables, one per layer.")
        return cls(tuple(Layer.from_table(t, f"{lab.path}, architecture.layers[{i}]") for i, t in enumerate(tables)))

    def parameter_shapes(self) -> list[tuple[int, ...]]:
        """Every parameter tensor's shape, layer by layer (weight, then bias)."""
        return [shape for layer in self.layers for shape in layer.parameter_shapes()]

    def has(self, *kinds: str) -> bool:
        """Whether any of the lab's layers is of one of ``kinds`` (``has(*DROPOUTS)``: any dropout)."""
        return any(layer.kind in kinds for layer in self.layers)

    def parametrized(self) -> list[int]:
        """The indices of the layers that have parameters."""
        return [i for i, layer in enumerate(self.layers) if layer.parameter_shapes()]

    def draw_weights(self, seed: int) -> list[torch.Tensor]:
        """Random weights, one tensor per parameter: uniform in +-1/sqrt(fan_in), as torch initialises
        conv and linear layers, from a generator of their own (the global one is left alone)."""
        generator = torch.Generator().manual_seed(seed)
        weights = []
        for layer in self.layers:
            shapes = layer.parameter_shapes()
            if shapes:
                bound = 1 / math.sqrt(math.prod(shapes[0][1:]))
                weights += [(torch.rand(s, generator=generator) * 2 - 1) * bound for s in shapes]
        return weights

    def run(self, weights: Sequence[torch.Tensor], x: torch.Tensor, *, train: bool = False,
            seed: int = 0) -> list[torch.Tensor]:
        """The output of every layer (``[0]``: the input), computed layer by layer after
        ``torch.manual_seed(seed)``, so that dropout masks are drawn as a Net's own under that seed are."""
        torch.manual_seed(seed)
        stages = [x]
        remaining = list(weights)
        with torch.no_grad():
            for layer in self.layers:
                count = len(layer.parameter_shapes())
                mine, remaining = remaining[:count], remaining[count:]
                stages.append(layer.apply(stages[-1], mine, train))
        return stages

    def variant(self, index: int, layer: Layer | None = None, *, insert: bool = False) -> Architecture:
        """These layers with layer ``index`` replaced by ``layer`` (removed when None), or with
        ``layer`` inserted before ``index`` when ``insert``."""
        layers = list(self.layers)
        if insert:
            layers.insert(index, layer)
        elif layer is None:
            del layers[index]
        else:
            layers[index] = layer
        return replace(self, layers=tuple(layers))

    def after(self, index: int) -> str:
        """`` after the Linear(320 -> 50)``: the layer with parameters before layer ``index`` (`` at the
        input`` if none)."""
        before = [i for i in self.parametrized() if i < index]
        return f" after the {self.layers[before[-1]].describe()}" if before else " at the input"

    def describe_dropout(self) -> str:
        """``channel dropout (nn.Dropout2d, p=0.5) after the Conv2d(10 -> 20, kernel 5) and ...``."""
        placed = [layer.describe() + self.after(i) for i, layer in enumerate(self.layers) if layer.kind in DROPOUTS]
        return " and ".join(placed) if placed else "no dropout"

    def describe(self, start: int = 0, stop: int | None = None) -> str:
        """``max pooling 2x2, then ReLU`` for layers ``start`` to ``stop`` (exclusive)."""
        names = [layer.describe() for layer in self.layers[start:stop]]
        return ", then ".join(names) if names else "nothing"
