"""The mistakes students make, made from a lab's reference Net (``cnngrade check-lab DIR --mutants``).

Each mutant is the reference's network file with one mistake, made by rewriting the source of the
network class's ``__init__`` and ``forward`` with :mod:`ast`: the layers are read from the calls
``forward`` makes (``self.conv1(x)``, ``F.relu(...)``, ``x.flatten(1)``, in the order the data flows)
and from the elements of the ``nn.Sequential`` modules it calls, each layer's kind from the class of
the module the reference builds (built on torch's ``meta`` device: no memory, no computation).

==================  =========================================================================
mutant              the mistake
==================  =========================================================================
relu_on_output      a ReLU on the last layer's scores
sigmoid_on_output   a sigmoid on the last layer's scores
no_output           the lab's output transform (log_softmax, softmax, sigmoid) left out
wrong_output        another output transform (softmax for log_softmax, softmax on logits, ...)
avg_pool            average pooling for the first max pooling
no_relu             the first ReLU left out
tanh_for_relu       tanh for the first ReLU
padding             the first convolution's padding changed (0, or kernel // 2), next layer resized
stride              the first convolution's stride one larger, next layer resized
no_dropout          the first dropout left out
dropout_moved       the last dropout moved before the weighted layer that precedes it
dropout_off         the first dropout called with ``training=False`` (never active)
dropout_always      the first dropout called without ``training=self.training`` (active in eval too)
frozen_layer        the first weighted layer's parameters frozen (``requires_grad_(False)``)
detached_layer      the output of the first weighted layer's call ``.detach()``-ed
fixed_batch         the flatten as ``x.reshape(B, -1)``, B the batch size of the lab's forward checks
transposed_flatten  the flatten of a transposed tensor (``x.transpose(-1, -2).flatten(1)``)
==================  =========================================================================

A mutant the reference's Net gives no place for (no pooling, no dropout, a dropout only inside an
``nn.Sequential``) is :class:`NotApplicable`, saying why; so is one that would be the same file as an
earlier mutant, and one whose Net does not build or run on the lab's input shape (checked on the
``meta`` device).
"""

from __future__ import annotations

import ast
import copy
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from cnngrade.lab.config import LabConfig
from cnngrade.lab.outputs import output_kind
from cnngrade.submission.loading import load_module
from cnngrade.submission.sources import read_source

#: kinds of the layers a mutant changes, by the functions (full dotted names) and Tensor methods
FUNCTIONS = {
    "relu": ("torch.relu", "torch.nn.functional.relu", "torch.relu_", "torch.nn.functional.relu_"),
    "tanh": ("torch.tanh", "torch.nn.functional.tanh"),
    "sigmoid": ("torch.sigmoid", "torch.nn.functional.sigmoid"),
    "max_pool2d": ("torch.max_pool2d", "torch.nn.functional.max_pool2d"),
    "avg_pool2d": ("torch.avg_pool2d", "torch.nn.functional.avg_pool2d"),
    "dropout": ("torch.nn.functional.dropout", "torch.nn.functional.dropout2d", "torch.dropout"),
    "flatten": ("torch.flatten",),
    "log_softmax": ("torch.log_softmax", "torch.nn.functional.log_softmax"),
    "softmax": ("torch.softmax", "torch.nn.functional.softmax"),
    "log": ("torch.log",),
}
METHODS = {"relu": "relu", "relu_": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "flatten": "flatten",
           "view": "flatten", "reshape": "flatten", "log_softmax": "log_softmax", "softmax": "softmax", "log": "log"}
#: and by the modules (subclasses count: nn.Dropout2d is a dropout)
MODULES = ((nn.Conv2d, "conv2d"), (nn.Linear, "linear"), (nn.ReLU, "relu"), (nn.Tanh, "tanh"),
           (nn.Sigmoid, "sigmoid"), (nn.MaxPool2d, "max_pool2d"), (nn.AvgPool2d, "avg_pool2d"),
           (nn.modules.dropout._DropoutNd, "dropout"), (nn.Flatten, "flatten"), (nn.LogSoftmax, "log_softmax"),
           (nn.Softmax, "softmax"))
WEIGHTED = ("conv2d", "linear")
#: the output transform each ``[net] output`` ends with, and the wrong one a mutant puts instead (or adds)
WRONG_OUTPUT = {"log_softmax": "softmax", "softmax": "log_softmax", "sigmoid": "softmax", "logits": "softmax",
                "logit": "sigmoid"}


@dataclass(frozen=True)
class Mutant:
    """One mistake: its name, what it is in words, where the source changes, the mutated file."""

    name: str
    title: str
    change: str
    source: str


@dataclass(frozen=True)
class NotApplicable:
    """A mistake the reference's Net gives no place for, and why."""

    name: str
    title: str
    reason: str


class _Inapplicable(Exception):
    """Raised by a mutation that finds no place for its mistake (the message says why)."""


@dataclass
class Op:
    """A layer of the reference's Net: a call in ``forward``, or an element of an ``nn.Sequential(...)``
    call in ``__init__`` (then ``sequence`` is that call)."""

    kind: str
    node: ast.expr
    #: the module's dotted name in the Net (``conv1``, ``features.0``); None for a function call
    module: str | None = None
    sequence: ast.Call | None = None
    #: a Tensor method's call (``x.flatten(1)``)
    method: bool = False
    #: the input, where it is not the call's own (``torch.log(F.softmax(x, dim=1))``: ``x``)
    given_input: ast.expr | None = None

    @property
    def input(self) -> ast.expr:
        """What a call in ``forward`` is applied to: the Tensor of a method call, else its first argument."""
        assert isinstance(self.node, ast.Call) and self.sequence is None
        if self.given_input is not None:
            return self.given_input
        if self.method:
            assert isinstance(self.node.func, ast.Attribute)
            return self.node.func.value
        if self.node.args:
            return self.node.args[0]
        found = next((k.value for k in self.node.keywords if k.arg == "input"), None)
        if found is None:
            raise _Inapplicable(f"`{ast.unparse(self.node)}` has no input argument")
        return found


@dataclass(frozen=True)
class Lab:
    """What mutations read from the lab: its input shape, its output kind, and the batch size its forward
    checks use (the last of ``[net] batch_sizes``): a hard-coded batch size that passes those."""

    input_shape: tuple[int, ...]
    output: str
    batch_size: int

    @classmethod
    def from_config(cls, lab: LabConfig) -> Lab:
        return cls(tuple(lab.setting("net.input_shape")), output_kind(lab.get("net.output", None)).name,
                   int(lab.setting("net.batch_sizes")[-1]))


#: builds the network class of a source text (the network file's) on the meta device
Builder = Callable[[str], nn.Module]


@dataclass
class NetSource:
    """A fresh parse of the network file, the layers of its class, and what a mutation adds to it."""

    text: str
    tree: ast.Module
    init: ast.FunctionDef
    forward: ast.FunctionDef
    ops: list[Op]
    lab: Lab
    #: the reference's Net, built on the meta device
    reference: nn.Module
    build: Builder
    #: lines a mutation appends to ``__init__``
    init_lines: list[str] = field(default_factory=list)

    def first(self, *kinds: str, in_forward: bool = False) -> Op:
        """The first layer of one of ``kinds`` (a call in ``forward`` only, with ``in_forward``)."""
        for op in self.ops:
            if op.kind in kinds and not (in_forward and op.sequence is not None):
                return op
        where = " called in forward" if in_forward and any(op.kind in kinds for op in self.ops) else ""
        raise _Inapplicable(f"the reference's Net has no {' or '.join(kinds)} layer{where}")

    def replace(self, old: ast.AST, new: ast.AST) -> None:
        """Put ``new`` where ``old`` is (in the whole tree)."""
        _Replace(old, new).visit(self.tree)

    def init_call(self, module: str) -> ast.Call:
        """The call in ``__init__`` that builds the module named ``module`` (``fc1``, ``classifier.1``)."""
        first, *indices = module.split(".")
        call = _attribute_assignments(self.init).get(first)
        for index in indices:
            call = call.args[int(index)] if isinstance(call, ast.Call) and int(index) < len(call.args) else None
        if not isinstance(call, ast.Call):
            raise _Inapplicable(f"no call in __init__ builds {module}")
        return call

    def render(self) -> tuple[str, list[str]]:
        """The mutated file, and each change in words (``forward, line 47: `a` -> `b```)."""
        original = _methods(ast.parse(self.text), self.reference.__class__.__name__)
        lines = self.text.splitlines(keepends=True)
        edits: list[tuple[int, int, str]] = []  # replace lines [start, end) by the text
        changes = []
        for name, mutated in (("__init__", self.init), ("forward", self.forward)):
            for new, old in zip(mutated.body, original[name].body, strict=True):
                if ast.dump(new) != ast.dump(old):
                    code = ast.unparse(new)
                    edits.append((old.lineno - 1, old.end_lineno, _indent(code, old.col_offset)))
                    was = " ".join("".join(lines[old.lineno - 1:old.end_lineno]).split())
                    changes.append(f"{name}, line {old.lineno}: `{was}` -> `{' '.join(code.split())}`")
        if self.init_lines:
            last = original["__init__"].body[-1]
            edits.append((last.end_lineno, last.end_lineno, "".join(_indent(line, last.col_offset)
                                                                     for line in self.init_lines)))
            changes += [f"__init__ ends with `{line}`" for line in self.init_lines]
        for start, end, code in sorted(edits, reverse=True):
            lines[start:end] = [code]
        if "torch" not in _aliases(self.tree):  # the mutations write torch.relu, torch.nn.ReLU()...
            cls = original["class"]
            assert isinstance(cls, ast.ClassDef)
            at = min([cls.lineno, *(d.lineno for d in cls.decorator_list)]) - 1
            lines.insert(at, "import torch\n")
        return "".join(lines), changes


def _indent(code: str, columns: int) -> str:
    return "".join(" " * columns + line + "\n" for line in code.splitlines())


def _methods(tree: ast.Module, net_class: str) -> dict[str, ast.AST]:
    """The class ``net_class`` of ``tree`` (``"class"``), its ``__init__`` and its ``forward``."""
    cls = next((s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == net_class), None)
    if cls is None:
        raise ValueError(f"the network file defines no top-level class {net_class}")
    methods = {s.name: s for s in cls.body if isinstance(s, ast.FunctionDef)}
    if "__init__" not in methods or "forward" not in methods:
        raise ValueError(f"{net_class} defines no __init__ or no forward")
    return {"class": cls, "__init__": methods["__init__"], "forward": methods["forward"]}


class _Replace(ast.NodeTransformer):
    def __init__(self, old: ast.AST, new: ast.AST) -> None:
        self.old, self.new = old, new

    def visit(self, node: ast.AST) -> ast.AST:
        return self.new if node is self.old else self.generic_visit(node)


def template(code: str, **parts: ast.expr) -> ast.expr:
    """The expression ``code`` with each name in ``parts`` replaced by its node: ``template("torch.relu(X)", X=n)``."""

    class Fill(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return parts.get(node.id, node)

    return Fill().visit(ast.parse(code, mode="eval").body)


def _attribute_assignments(function: ast.FunctionDef) -> dict[str, ast.expr]:
    """``self.NAME = VALUE`` statements of ``function``: NAME -> VALUE."""
    found = {}
    for stmt in ast.walk(function):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                found[target.attr] = stmt.value
    return found


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Names the module's top-level imports bind, as dotted paths: ``F`` -> ``torch.nn.functional``."""
    names = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                top = alias.name.split(".")[0]
                names[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            for alias in stmt.names:
                names[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """``F.relu`` -> ``torch.nn.functional.relu`` (None: not a name the imports bind)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _kind_of_module(module: nn.Module) -> str | None:
    return next((kind for cls, kind in MODULES if isinstance(module, cls)), None)


def _sequence_ops(call: ast.expr, sequential: nn.Sequential, name: str) -> list[Op]:
    """The layers of an ``nn.Sequential(a, b, ...)`` call, by its elements (none where the call does not
    list them one by one)."""
    if not (isinstance(call, ast.Call) and len(call.args) == len(sequential) and not call.keywords):
        return []
    ops = []
    for index, (element, module) in enumerate(zip(call.args, sequential, strict=True)):
        if isinstance(module, nn.Sequential):
            ops += _sequence_ops(element, module, f"{name}.{index}")
        elif (kind := _kind_of_module(module)) is not None:
            ops.append(Op(kind, element, f"{name}.{index}", call))
    return ops


def _forward_ops(forward: ast.FunctionDef, net: nn.Module, aliases: dict[str, str],
                 sequences: dict[str, ast.expr]) -> list[Op]:
    """The layers ``forward`` calls, in the order Python evaluates the calls (the data's order)."""
    ops: list[Op] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            visit(child)
        if isinstance(node, ast.Call):
            record(node)

    def record(call: ast.Call) -> None:
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            module = net._modules.get(func.attr)
            if isinstance(module, nn.Sequential):
                ops.extend(_sequence_ops(sequences.get(func.attr), module, func.attr))
            elif module is not None and (kind := _kind_of_module(module)) is not None:
                ops.append(Op(kind, call, func.attr))
            return
        name = _dotted(func, aliases)
        kind = next((k for k, names in FUNCTIONS.items() if name in names), None)
        method = kind is None and name is None and isinstance(func, ast.Attribute)
        if method:
            kind = METHODS.get(func.attr)
        if kind == "log" and ops and ops[-1].kind == "softmax" and ops[-1].node in (*call.args, func):
            # torch.log(F.softmax(x, dim=1)): a log-softmax of x
            ops[-1] = Op("log_softmax", call, given_input=ops[-1].input)
            return
        if kind is not None and (method or call.args or call.keywords):
            ops.append(Op(kind, call, method=method))

    for stmt in forward.body:
        visit(stmt)
    return ops


def parse_net(text: str, lab: Lab, reference: nn.Module, build: Builder) -> NetSource:
    """The network file ``text`` parsed afresh, with the layers of its class (``reference`` is an
    instance of it: its modules' kinds)."""
    tree = ast.parse(text)
    methods = _methods(tree, reference.__class__.__name__)
    init, forward = methods["__init__"], methods["forward"]
    assert isinstance(init, ast.FunctionDef) and isinstance(forward, ast.FunctionDef)
    ops = _forward_ops(forward, reference, _aliases(tree), _attribute_assignments(init))
    return NetSource(text, tree, init, forward, ops, lab, reference, build)


# --------------------------------------------------------------------------- the mutations
# Each changes a fresh NetSource in place and returns what it did, in words, or raises _Inapplicable.


def _unwrap(net: NetSource, op: Op) -> None:
    """Leave ``op`` out: a call becomes its input, an ``nn.Sequential`` element goes."""
    if op.sequence is not None:
        op.sequence.args.remove(op.node)
    else:
        net.replace(op.node, op.input)


def _after(net: NetSource, op: Op, call: str, module: str) -> None:
    """Apply ``call`` (``torch.relu(X)``) to ``op``'s output, or put ``module`` after it in its ``nn.Sequential``."""
    if op.sequence is not None:
        op.sequence.args.insert(op.sequence.args.index(op.node) + 1, template(module))
    else:
        net.replace(op.node, template(call, X=op.node))


def _instead(net: NetSource, op: Op, call: str, module: str) -> None:
    """Replace ``op`` by ``call`` of its input (``X``), or its ``nn.Sequential`` element by ``module``."""
    net.replace(op.node, template(module) if op.sequence is not None else template(call, X=op.input))


def _last_linear(net: NetSource) -> Op:
    weighted = [op for op in net.ops if op.kind in WEIGHTED]
    if not weighted or weighted[-1].kind != "linear":
        raise _Inapplicable("the reference's Net does not end with a fully connected layer")
    return weighted[-1]


def _output_op(net: NetSource) -> Op:
    final = output_kind(net.lab.output).final_layer
    if final is None:
        raise _Inapplicable(f"the lab's Net returns {net.lab.output}: it has no output transform")
    if not net.ops or net.ops[-1].kind != final:
        raise _Inapplicable(f"the reference's Net does not end with a {final} call or module")
    return net.ops[-1]


def relu_on_output(net: NetSource) -> str:
    _after(net, _last_linear(net), "torch.relu(X)", "torch.nn.ReLU()")
    return "a ReLU on the last layer's scores"


def sigmoid_on_output(net: NetSource) -> str:
    _after(net, _last_linear(net), "torch.sigmoid(X)", "torch.nn.Sigmoid()")
    return "a sigmoid on the last layer's scores"


def no_output(net: NetSource) -> str:
    op = _output_op(net)
    _unwrap(net, op)
    return f"no {op.kind}: the last layer's scores returned"


def wrong_output(net: NetSource) -> str:
    wrong = WRONG_OUTPUT[net.lab.output]
    module = {"softmax": "Softmax(dim=1)", "log_softmax": "LogSoftmax(dim=1)", "sigmoid": "Sigmoid()"}[wrong]
    call = f"torch.{wrong}(X{'' if wrong == 'sigmoid' else ', dim=1'})"
    if output_kind(net.lab.output).final_layer is None:
        _after(net, _last_linear(net), call, f"torch.nn.{module}")
        return f"{wrong} on the {net.lab.output}"
    op = _output_op(net)
    _instead(net, op, call, f"torch.nn.{module}")
    return f"{wrong} for {op.kind}"


def avg_pool(net: NetSource) -> str:
    op = net.first("max_pool2d")
    node = op.node
    assert isinstance(node, ast.Call)
    if op.module is not None and op.sequence is None:  # self.pool(x)
        pool = ast.unparse(node.func)
        new = template(f"torch.nn.functional.avg_pool2d(X, {pool}.kernel_size, {pool}.stride, {pool}.padding)",
                       X=op.input)
    else:  # F.max_pool2d(x, 2) or an nn.MaxPool2d(2) element: the same arguments, but dilation and indices
        functional = op.sequence is None
        new = ast.Call(template("torch.nn.functional.avg_pool2d" if functional else "torch.nn.AvgPool2d"),
                       node.args[: 4 if functional else 3],
                       [k for k in node.keywords if k.arg in ("kernel_size", "stride", "padding", "ceil_mode")])
    net.replace(node, new)
    return "average pooling for the first max pooling"


def no_relu(net: NetSource) -> str:
    _unwrap(net, net.first("relu"))
    return "the first ReLU left out"


def tanh_for_relu(net: NetSource) -> str:
    _instead(net, net.first("relu"), "torch.tanh(X)", "torch.nn.Tanh()")
    return "tanh for the first ReLU"


def _set_argument(call: ast.Call, position: int, keyword: str, value: int) -> None:
    """Set ``call``'s argument ``keyword`` (or its ``position``-th positional argument) to ``value``."""
    if len(call.args) > position:
        call.args[position] = ast.Constant(value)
    elif given := [k for k in call.keywords if k.arg == keyword]:
        given[0].value = ast.Constant(value)
    else:
        call.keywords.append(ast.keyword(keyword, ast.Constant(value)))


def _first_conv(net: NetSource) -> tuple[str, nn.Conv2d, ast.Call]:
    op = net.first("conv2d")
    assert op.module is not None
    conv = net.reference.get_submodule(op.module)
    assert isinstance(conv, nn.Conv2d)
    return op.module, conv, net.init_call(op.module)


def _sized_flattens(net: NetSource) -> list[Op]:
    """The flattens of ``forward`` that state a size (``x.view(-1, 320)``)."""
    return [op for op in net.ops if op.kind == "flatten" and op.method and isinstance(op.node, ast.Call)
            and any(isinstance(a, ast.Constant) and isinstance(a.value, int) and a.value > 1 for a in op.node.args)]


def _resize(net: NetSource) -> str:
    """Resize the fully connected layers whose input no longer fits, and the sizes the flattens state
    (``x.view(-1, 320)``); say which. The sizes are measured on a probe: the mutant with each such flatten
    a plain ``flatten(1)``, built on the meta device."""
    resized = []
    for _ in range(sum(isinstance(m, nn.Linear) for m in net.reference.modules())):
        probe = copy.deepcopy(net)
        for op in _sized_flattens(probe):
            probe.replace(op.node, template("X.flatten(1)", X=op.input))
        misfit = _misfit(net.build(probe.render()[0]), net.lab.input_shape)
        if misfit is None:
            break
        name, size = misfit
        old = net.reference.get_submodule(name).in_features
        _set_argument(net.init_call(name), 0, "in_features", size)
        for op in _sized_flattens(net):
            assert isinstance(op.node, ast.Call)
            op.node.args = [ast.Constant(size) if isinstance(a, ast.Constant) and a.value == old else a
                            for a in op.node.args]
        resized.append(f"{name} resized to {size:,} inputs")
    return f", {', '.join(resized)}" if resized else ", no layer resized"


def _misfit(net: nn.Module, input_shape: tuple[int, ...]) -> tuple[str, int] | None:
    """The first ``nn.Linear`` of ``net`` (built on the meta device) whose input does not fit it, and the
    input's size; None where the forward pass runs."""
    found: list[tuple[str, int]] = []

    def told(name: str) -> Callable[[nn.Module, tuple], None]:
        def check(layer: nn.Module, inputs: tuple) -> None:
            if inputs[0].shape[-1] != layer.in_features:
                found.append((name, inputs[0].shape[-1]))
                raise _Misfit
        return check

    for name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            module.register_forward_pre_hook(told(name))
    try:
        net.eval()(torch.empty((3, *input_shape), device="meta"))
    except _Misfit:
        return found[0]
    except Exception as exc:  # noqa: BLE001 - any error of the mutant's own forward pass
        raise _Inapplicable(f"the Net does not run on the lab's input shape ({str(exc).splitlines()[0]})") from None
    return None


class _Misfit(Exception):
    """Stops a forward pass at the first fully connected layer whose input does not fit it."""


def padding(net: NetSource) -> str:
    name, conv, call = _first_conv(net)
    old = conv.padding[0] if isinstance(conv.padding, tuple) else conv.padding
    if not isinstance(old, int):
        raise _Inapplicable(f"{name} has padding {old!r}")
    new = 0 if old else max(1, conv.kernel_size[0] // 2)
    _set_argument(call, 4, "padding", new)
    return f"padding {new} for {old} in {name}" + _resize(net)


def stride(net: NetSource) -> str:
    name, conv, call = _first_conv(net)
    _set_argument(call, 3, "stride", conv.stride[0] + 1)
    return f"stride {conv.stride[0] + 1} for {conv.stride[0]} in {name}" + _resize(net)


def no_dropout(net: NetSource) -> str:
    _unwrap(net, net.first("dropout"))
    return "the first dropout left out"


def dropout_moved(net: NetSource) -> str:
    last = max((i for i, op in enumerate(net.ops) if op.kind == "dropout"), default=None)
    if last is None:
        raise _Inapplicable("the reference's Net has no dropout layer")
    drop = net.ops[last]
    target = next((op for op in reversed(net.ops[:last]) if op.kind in WEIGHTED), None)
    if target is None:
        raise _Inapplicable("no weighted layer comes before the reference's last dropout")
    if drop.sequence is not target.sequence:
        raise _Inapplicable(f"the last dropout and {target.module or target.kind} are not both called in forward, "
                            "nor both in one nn.Sequential")
    if drop.sequence is not None:
        drop.sequence.args.remove(drop.node)
        drop.sequence.args.insert(drop.sequence.args.index(target.node), drop.node)
    else:
        assert isinstance(drop.node, ast.Call) and isinstance(target.node, ast.Call)
        moved = ast.Call(drop.node.func, [target.input, *drop.node.args[1:]], drop.node.keywords)
        net.replace(drop.node, drop.input)
        target.node.args[0] = moved
    return f"the last dropout moved before {target.module or target.kind}"


def _dropout_call(net: NetSource, training: bool | None) -> None:
    """Call the first dropout of forward as a function, with ``training=training`` (None: not given)."""
    op = net.first("dropout", in_forward=True)
    call = op.node
    assert isinstance(call, ast.Call)
    if op.module is not None:
        function = "dropout2d" if isinstance(net.reference.get_submodule(op.module), nn.Dropout2d) else "dropout"
        new = template(f"torch.nn.functional.{function}(X, {ast.unparse(call.func)}.p)", X=op.input)
    else:
        new = ast.Call(call.func, call.args[:2], [k for k in call.keywords if k.arg != "training"])
    assert isinstance(new, ast.Call)
    if training is not None:
        new.keywords.append(ast.keyword("training", ast.Constant(training)))
    net.replace(call, new)


def dropout_off(net: NetSource) -> str:
    _dropout_call(net, False)
    return "the first dropout with training=False (never active)"


def dropout_always(net: NetSource) -> str:
    _dropout_call(net, None)
    return "the first dropout without training=self.training (active in eval mode too)"


def frozen_layer(net: NetSource) -> str:
    op = net.first(*WEIGHTED)
    assert op.module is not None
    path = "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in op.module.split("."))
    net.init_lines.append(f"self{path}.requires_grad_(False)")
    return f"{op.module} frozen (requires_grad False)"


def detached_layer(net: NetSource) -> str:
    op = net.first(*WEIGHTED)
    assert op.module is not None
    name = op.module.split(".")[0]
    calls = [node for node in ast.walk(net.forward) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == name
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"]
    if not calls:
        raise _Inapplicable(f"forward does not call self.{name}")
    net.replace(calls[-1], template("X.detach()", X=calls[-1]))
    return f"the output of self.{name} detached (no gradient reaches {name})"


def fixed_batch(net: NetSource) -> str:
    op = net.first("flatten", in_forward=True)
    net.replace(op.node, template(f"X.reshape({net.lab.batch_size}, -1)", X=op.input))
    return f"the flatten with the batch size hard-coded ({net.lab.batch_size})"


def transposed_flatten(net: NetSource) -> str:
    op = net.first("flatten", in_forward=True)
    net.replace(op.node, template("X.transpose(-1, -2).flatten(1)", X=op.input))
    return "the last two dimensions swapped before the flatten"


#: every mutation: its name, what it is in general, the function that makes it
MUTATIONS: tuple[tuple[str, str, Callable[[NetSource], str]], ...] = (
    ("relu_on_output", "a ReLU on the output layer", relu_on_output),
    ("sigmoid_on_output", "a sigmoid on the output layer", sigmoid_on_output),
    ("no_output", "the output transform left out", no_output),
    ("wrong_output", "another output transform", wrong_output),
    ("avg_pool", "average for max pooling", avg_pool),
    ("no_relu", "a ReLU left out", no_relu),
    ("tanh_for_relu", "tanh for a ReLU", tanh_for_relu),
    ("padding", "another padding, the next layer resized", padding),
    ("stride", "another stride, the next layer resized", stride),
    ("no_dropout", "a dropout left out", no_dropout),
    ("dropout_moved", "a dropout moved", dropout_moved),
    ("dropout_off", "a dropout never active (training=False)", dropout_off),
    ("dropout_always", "a dropout active in eval mode", dropout_always),
    ("frozen_layer", "a frozen layer (requires_grad False)", frozen_layer),
    ("detached_layer", "a layer's output detached", detached_layer),
    ("fixed_batch", "a hard-coded batch size", fixed_batch),
    ("transposed_flatten", "a transposed flatten", transposed_flatten),
)


def make_mutants(text: str, lab: Lab, build: Builder) -> list[Mutant | NotApplicable]:
    """Every mutation of the network file ``text``, in :data:`MUTATIONS`' order; ``build`` builds its
    class from a source text (on the meta device)."""
    try:
        reference = build(text)
        expected = _output_shape(reference, lab)
    except _Inapplicable as exc:
        raise ValueError(str(exc).replace("the Net", "the reference's Net")) from None
    made: dict[str, str] = {text: "the reference"}
    results: list[Mutant | NotApplicable] = []
    for name, title, mutation in MUTATIONS:
        net = parse_net(text, lab, reference, build)
        try:
            detail = mutation(net)
            source, changes = net.render()
            if source in made:
                raise _Inapplicable(f"it is the same file as {made[source]}")
            shape = _output_shape(build(source), lab)
            if shape != expected:
                raise _Inapplicable(f"the Net returns shape {shape} where the reference's returns {expected}")
        except _Inapplicable as exc:
            results.append(NotApplicable(name, title, str(exc)))
            continue
        made[source] = name
        results.append(Mutant(name, detail, "; ".join(changes), source))
    return results


def _output_shape(net: nn.Module, lab: Lab) -> tuple[int, ...]:
    """The shape of ``net``'s eval-mode output for a batch of :attr:`Lab.batch_size`, on the meta device."""
    try:
        return tuple(net.eval()(torch.empty((lab.batch_size, *lab.input_shape), device="meta")).shape)
    except Exception as exc:  # noqa: BLE001 - any error of the net's own forward pass
        raise _Inapplicable(f"the Net does not run on the lab's input shape ({str(exc).splitlines()[0]})") from None


def builder(directory: Path, file_name: str, net_class: str) -> Builder:
    """Builds ``net_class`` from a source text, as the file ``file_name`` of a copy of ``directory``
    (its siblings importable), on the meta device."""

    def build(text: str) -> nn.Module:
        with tempfile.TemporaryDirectory(prefix="cnngrade-mutant-") as scratch:
            copy_submission(directory, Path(scratch), {file_name: text})
            try:
                cls = load_module(read_source(Path(scratch) / file_name), [net_class]).get(net_class)
                with torch.device("meta"):
                    return cls()
            except Exception as exc:  # noqa: BLE001 - any error of the lab's own code
                raise _Inapplicable(f"the Net does not build ({str(exc).splitlines()[0]})") from None

    return build


def copy_submission(reference: Path, destination: Path, files: dict[str, str]) -> None:
    """The reference's folder at ``destination`` (its ``.py`` and ``.ipynb`` files: no ``model.pt``, whose
    weights are the reference's), with ``files`` (name -> text) written over."""
    destination.mkdir(parents=True, exist_ok=True)
    for path in reference.iterdir():
        if path.is_file() and path.suffix in (".py", ".ipynb"):
            shutil.copy2(path, destination / path.name)
    for name, text in files.items():
        (destination / name).write_text(text, encoding="utf-8")
