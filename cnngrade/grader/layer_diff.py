"""The first of the lab's layers that Net's layers differ from, in words, where Net's parameters do not fit the
lab's (so the grader cannot load the lab's weights into Net: the architecture check fails on that alone).

The lab's layers with weights (``conv2d``, ``linear``, in order) are paired with Net's, read from its
parameters in their order: a weight of 4 dimensions is a convolution, of 2 a fully connected layer, with
the bias of the same module. Sizes come from the shapes; a convolution's stride and padding from its
module's summary (``Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))``) where Net has
one. The first pair that differs is named: "conv1: the lab's Conv2d(1 -> 6, kernel 5, padding 2); Net's
has padding 0". What Net reports about itself only words this message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cnngrade.grader.architecture import Architecture, Layer
from cnngrade.submission.handle import NetDescription

#: a weight's dimensions -> the layer kind it belongs to
KIND_OF_WEIGHT = {4: "conv2d", 2: "linear"}
#: the options compared, in the order a message names them
COMPARED = ("in", "out", "kernel", "stride", "padding", "bias")


@dataclass(frozen=True)
class NetLayer:
    """One of Net's layers with weights: the module (or parameter) ``name``, its ``kind``, and the options
    its parameters and summary show (a convolution's stride and padding only where it has a summary)."""

    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """As the lab's layers are described: ``Conv2d(1 -> 6, kernel 5)``."""
        return Layer.of(self.kind, **self.options).describe()


def net_layers(net: NetDescription) -> list[NetLayer]:
    """Net's layers with weights, in the order of its parameters."""
    shapes = {p.name: tuple(p.shape) for p in net.parameters}
    summaries = {m.name: m.summary for m in net.modules}
    layers = []
    for parameter in net.parameters:
        kind = KIND_OF_WEIGHT.get(len(parameter.shape))
        if kind is None:
            continue
        module = parameter.name.rsplit(".", 1)[0] if "." in parameter.name else parameter.name
        out, inputs, *kernel = parameter.shape
        options: dict[str, Any] = {"in": inputs, "out": out}
        if "." in parameter.name:  # a module's weight: its bias is the module's (a bare parameter's is unknown)
            options["bias"] = shapes.get(f"{module}.bias") == (out,)
        if kind == "conv2d":
            options["kernel"] = kernel[0] if kernel[0] == kernel[1] else tuple(kernel)
            options.update(_conv_options(summaries.get(module, "")))
        layers.append(NetLayer(module, kind, options))
    return layers


def _conv_options(summary: str) -> dict[str, Any]:
    """A convolution's stride and padding from its module's summary; none where it shows none."""
    if not summary.startswith("Conv2d("):
        return {}
    options: dict[str, Any] = {"stride": 1, "padding": 0}
    for name in options:
        found = re.search(rf"\b{name}=\((\d+), (\d+)\)", summary) or re.search(rf"\b{name}=(\d+)\b", summary)
        if found:
            values = {int(v) for v in found.groups()}
            options[name] = values.pop() if len(values) == 1 else tuple(int(v) for v in found.groups())
    return options


def first_difference(arch: Architecture, net: NetDescription) -> str | None:
    """The first of the lab's layers with weights that Net's differs from, and how, in a sentence; None
    where every one of them matches (the mismatch is elsewhere: :func:`describe_mismatch` says it)."""
    lab = [arch.layers[i] for i in arch.parametrized()]
    mine = net_layers(net)
    for number, (wanted, seen) in enumerate(zip(lab, mine, strict=False), start=1):
        if wanted.kind != seen.kind:
            return (f"{seen.name}: where the lab's layer with weights number {number} is a {wanted.describe()}, "
                    f"Net's is a {seen.describe()}.")
        differing = [name for name in COMPARED if name in seen.options and seen.options[name] != wanted.options[name]]
        if differing:
            have = ", ".join(_option(seen.kind, name, seen.options[name]) for name in differing)
            hint = ""
            if differing == ["in"] and number > 1:
                hint = (f" The layers before it give {seen.options['in']:,} values where the lab's give "
                        f"{wanted.options['in']:,}: check their padding, stride and pooling.")
            return f"{seen.name}: the lab's {wanted.describe()}; Net's has {have}.{hint}"
    if len(lab) > len(mine):
        return f"Net has no layer for the lab's {lab[len(mine)].describe()} (its layer with weights number " \
               f"{len(mine) + 1})."
    if len(mine) > len(lab):
        return f"{mine[len(lab)].name}: Net has a {mine[len(lab)].describe()} more than the lab's layers."
    return None


#: how an option's value is named, by layer kind: ``6 output channels``, ``256 inputs``
UNITS = {("conv2d", "in"): "input channels", ("conv2d", "out"): "output channels", ("linear", "in"): "inputs",
         ("linear", "out"): "outputs"}


def _option(kind: str, name: str, value: Any) -> str:
    """``6 output channels``, ``256 inputs``, ``padding 0``, ``no bias``."""
    if name == "bias":
        return "a bias" if value else "no bias"
    if (kind, name) in UNITS:
        return f"{value:,} {UNITS[kind, name]}"
    return f"{name} {value}"
