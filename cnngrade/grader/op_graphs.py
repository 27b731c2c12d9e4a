"""Operator graphs a submission sent (:class:`~cnngrade.submission.handle.OpGraph`), checked and run by the
grader.

A submission's process traces a call of a lab function to ATen operators and sends the graph as plain
data; a process that patched cnngrade can send any graph. The grader trusts nothing in it:

* :func:`validate` checks its form: every operator an ATen operator of torch's (resolved by name
  through ``torch.ops.aten``), none that modifies its arguments (in place or ``out=``), draws random
  numbers, reads a file or returns nothing (only a side effect); each reference to an input or an
  earlier node; at most ``nodes`` nodes; every name a dtype, layout, memory format or the CPU;
* :func:`run` runs it on tensors of the grader's choosing, each operator's result's size checked
  before it is computed on the CPU (``elements`` per result; ``work``, the elements read and written
  by all operators together; ``memory``, the bytes of all results that are not views): from its
  tensors' sizes for pointwise operators and reductions, else by running it on the ``meta`` device
  first. An operator whose result's size depends on values (``nonzero``, ``.item()``) has no meta
  kernel and runs on the CPU directly: its result is no larger than its inputs.

What the graph computes is the caller's business (:func:`cnngrade.grader.checks.expect_from_scratch`
compares it with what the function returned, and with torch on values the submission never saw).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from cnngrade.submission.handle import OpGraph, OpName, OpNode, OpRef


class GraphError(Exception):
    """A graph that cannot be checked or run; the message says why (to follow "the trace ...")."""


@dataclass(frozen=True)
class GraphLimits:
    """Upper bounds on a graph the grader runs."""

    nodes: int = 20_000
    #: elements of any one result (views included)
    elements: int = 50_000_000
    #: elements read and written by all operators together (a matrix product counts its multiplications)
    work: int = 500_000_000
    #: bytes of all results that are not views, together
    memory: int = 1 << 30


LIMITS = GraphLimits()
_NAME = re.compile(r"^aten\.([A-Za-z][A-Za-z0-9_]*|_[A-Za-z0-9][A-Za-z0-9_]*)\.([A-Za-z][A-Za-z0-9_]*)$")
_ARGUMENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: operators refused whatever their schema says
_REFUSED = {"from_file": "reads a file"}
#: operators whose result's size depends on the values of their inputs (no meta kernel), never larger
#: than their inputs: run on the CPU without a size check first
_DATA_DEPENDENT = frozenset({"_local_scalar_dense", "nonzero", "nonzero_static", "argwhere", "masked_select",
                             "index", "unique", "_unique", "_unique2", "unique_dim", "unique_consecutive",
                             "unique_dim_consecutive", "is_nonzero", "equal"})
#: operators whose result has no more elements than their tensors together: reductions, joins, copies,
#: scatters into a copy of their first tensor, gathers by an index
_NO_LARGER = frozenset({
    "sum", "mean", "nansum", "nanmean", "prod", "amax", "amin", "aminmax", "max", "min", "argmax", "argmin", "all",
    "any", "var", "std", "var_mean", "std_mean", "logsumexp", "norm", "linalg_vector_norm", "median", "nanmedian",
    "mode", "kthvalue", "sort", "argsort", "topk", "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp",
    "_softmax", "_log_softmax", "count_nonzero", "cat", "stack", "hstack", "vstack", "dstack", "copy", "clone",
    "_to_copy", "detach", "alias", "lift_fresh_copy", "slice_scatter", "select_scatter", "diagonal_scatter",
    "index_put", "index_add", "index_copy", "index_fill", "scatter", "scatter_add", "scatter_reduce",
    "masked_scatter", "gather"})
#: operators whose result is memory left as it was found: zeroed before the graph reads it (the grader's
#: memory is none of the graph's business)
_UNINITIALISED = frozenset({"empty", "empty_like", "empty_strided", "empty_permuted", "new_empty",
                            "new_empty_strided"})
#: matrix products: the position of the left operand among the arguments
_PRODUCTS = {"mm": 0, "bmm": 0, "matmul": 0, "mv": 0, "dot": 0, "vdot": 0, "addmm": 1, "baddbmm": 1,
             "addbmm": 1, "addmv": 1, "_addmm_activation": 1}
#: convolutions (their weight is the second argument) and factorisations of matrices
_CONVOLUTION = re.compile(r"conv(olution|[123]d|_transpose|_depthwise|_tbc)")
_FACTORISATION = re.compile(r"^_?linalg_|^(inverse|det|logdet|slogdet|svd|_linalg_svd|cholesky\w*|triangular_solve|"
                            r"lu_\w+|_lu_with_info|qr|geqrf|ormqr|orgqr|matrix_exp|matrix_power|pinverse|lstsq|cdist|"
                            r"_cdist_forward|_euclidean_dist)$")
_DEVICES = ("cpu",)
_KINDS = {"dtype": torch.dtype, "layout": torch.layout, "memory_format": torch.memory_format}


def resolve(op: object) -> torch._ops.OpOverload:
    """The ATen operator ``op`` names (``aten.max.dim``), or :class:`GraphError` if there is none or it
    is one a graph may not hold."""
    match = _NAME.match(op) if isinstance(op, str) and len(op) <= 200 else None
    if match is None:
        raise GraphError(f"{str(op)[:80]!r} is not the name of an ATen operator (aten.NAME.OVERLOAD)")
    packet_name, overload_name = match.groups()
    try:
        packet = getattr(torch.ops.aten, packet_name)
        overload = getattr(packet, overload_name)
    except (AttributeError, RuntimeError):
        raise GraphError(f"there is no ATen operator {op}") from None
    if not isinstance(packet, torch._ops.OpOverloadPacket) or not isinstance(overload, torch._ops.OpOverload) \
            or str(overload) != op:
        raise GraphError(f"there is no ATen operator {op}")
    schema = overload._schema
    if schema.is_mutable:
        raise GraphError(f"it holds {op}, which modifies its arguments (in place or out=)")
    if torch.Tag.nondeterministic_seeded in overload.tags:
        raise GraphError(f"it holds {op}, which draws random numbers")
    if not schema.returns:
        raise GraphError(f"it holds {op}, which returns nothing (it only has a side effect)")
    if packet_name in _REFUSED:
        raise GraphError(f"it holds {op}, which {_REFUSED[packet_name]}")
    return overload


def validate(graph: OpGraph, inputs: int, limits: GraphLimits = LIMITS) -> list[torch._ops.OpOverload]:
    """Check the form of ``graph`` for a call with ``inputs`` tensors: the operators of its nodes, or
    :class:`GraphError`."""
    if not isinstance(graph, OpGraph):
        raise GraphError(f"it is a {type(graph).__name__}, not an operator graph")
    if graph.inputs != inputs:
        raise GraphError(f"it has {graph.inputs} inputs; the call had {inputs} tensors")
    if len(graph.nodes) > limits.nodes:
        raise GraphError(f"it has {len(graph.nodes)} operators (the grader runs at most {limits.nodes})")
    overloads = []
    for index, node in enumerate(graph.nodes):
        if not isinstance(node, OpNode) or not isinstance(node.args, tuple) or not isinstance(node.kwargs, dict):
            raise GraphError(f"its node {index} is not an operator call")
        overload = resolve(node.op)
        names = {argument.name for argument in overload._schema.arguments}
        for key in node.kwargs:
            if not isinstance(key, str) or key not in names:
                raise GraphError(f"its node {index} ({node.op}) has an argument {str(key)[:40]!r}, which the "
                                 "operator does not take")
        for value in (*node.args, *node.kwargs.values()):
            _check_argument(value, inputs, index, limits, f"its node {index} ({node.op})")
        overloads.append(overload)
    _check_argument(graph.output, inputs, len(graph.nodes), limits, "its output")
    return overloads


def _check_argument(value: object, inputs: int, nodes: int, limits: GraphLimits, where: str) -> None:
    """An argument of a node (or the output) refers to an input or an earlier node, names a known
    dtype, layout, memory format or device, or is a constant."""
    if isinstance(value, OpRef):
        bound = inputs if value.source == "input" else nodes if value.source == "node" else 0
        if type(value.index) is not int or not 0 <= value.index < bound:
            raise GraphError(f"{where} refers to {value.source} {value.index}, which it cannot see")
        if value.item is not None and (value.source != "node" or type(value.item) is not int or value.item < 0):
            raise GraphError(f"{where} refers to result {value.item} of {value.source} {value.index}")
    elif isinstance(value, OpName):
        _named(value, "cpu")
    elif isinstance(value, list | tuple):
        for item in value:
            _check_argument(item, inputs, nodes, limits, where)
    elif isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor or value.numel() > limits.elements:
            raise GraphError(f"{where} holds a constant of {value.numel()} elements")
    elif not (value is None or isinstance(value, bool | int | float | str)):
        raise GraphError(f"{where} holds a {type(value).__name__}")


def _named(value: OpName, device: str) -> object:
    """The torch object ``value`` names (``device`` for the CPU: the device the graph runs on)."""
    if not isinstance(value.name, str) or not _ARGUMENT_NAME.match(value.name):
        raise GraphError(f"it names a {str(value.kind)[:20]} {str(value.name)[:40]!r}, which torch does not have")
    if value.kind == "device":
        if value.name not in _DEVICES:
            raise GraphError(f"it places a tensor on the device {value.name!r} (the grader runs it on the CPU)")
        return torch.device(device)
    kind = _KINDS.get(value.kind) if isinstance(value.kind, str) else None
    named = getattr(torch, value.name, None) if kind is not None else None
    if kind is None or not isinstance(named, kind):
        raise GraphError(f"it names a {str(value.kind)[:20]} {value.name!r}, which torch does not have")
    return named


def run(graph: OpGraph, inputs: Sequence[torch.Tensor], limits: GraphLimits = LIMITS) -> Any:
    """``graph``'s output on ``inputs`` (copies of them: the graph cannot change them), computed on the
    CPU without gradients; :class:`GraphError` if it is invalid, too large, or an operator fails."""
    overloads = validate(graph, len(inputs), limits)
    given = [t.detach().clone() for t in inputs]
    values: list[Any] = []
    work = memory = 0
    with torch.no_grad():
        for index, (node, overload) in enumerate(zip(graph.nodes, overloads, strict=True)):
            where = f"its node {index} ({node.op})"
            args = _values(node.args, given, values, "cpu", where)
            kwargs = {k: _values(v, given, values, "cpu", where) for k, v in node.kwargs.items()}
            name = overload._schema.name.split("::")[1]
            sizes = _result_sizes(overload, name, args, kwargs, where)
            for elements, _ in sizes:
                if elements > limits.elements:
                    raise GraphError(f"{where} would make a tensor of {elements:,} elements (the grader allows "
                                     f"{limits.elements:,})")
            work += _work(name, args, [elements for elements, _ in sizes])
            if not overload.is_view:
                memory += sum(elements * size for elements, size in sizes)
            if work > limits.work or memory > limits.memory:
                raise GraphError(f"it computes more than the grader allows ({limits.work:,} elements read and "
                                 f"written, {limits.memory >> 20} MiB of results), at {where}")
            try:
                result = overload(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any failure of the graph is the graph's
                # (only its type: torch's message may quote values the grader's memory held)
                raise GraphError(f"{where} failed when the grader ran it ({type(exc).__name__})") from None
            if name in _UNINITIALISED:
                for t in _tensors(result):
                    t.zero_()
            values.append(result)
    return _values(graph.output, given, values, "cpu", "its output")


def _values(value: Any, inputs: list[torch.Tensor], results: list[Any], device: str, where: str) -> Any:
    """An argument with its references replaced by the tensors they refer to and its names by torch
    objects (a device by ``device``), its constants copied."""
    if isinstance(value, OpRef):
        found = inputs[value.index] if value.source == "input" else results[value.index]
        if value.item is None:
            return found
        if not isinstance(found, list | tuple) or value.item >= len(found):
            raise GraphError(f"{where} uses result {value.item} of node {value.index}, which has no such result")
        return found[value.item]
    if isinstance(value, OpName):
        return _named(value, device)
    if isinstance(value, list):
        return [_values(v, inputs, results, device, where) for v in value]
    if isinstance(value, tuple):
        return tuple(_values(v, inputs, results, device, where) for v in value)
    if isinstance(value, torch.Tensor):
        return value.clone()
    return value


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return []


def _meta(value: Any) -> Any:
    """``value`` with each tensor replaced by a tensor of the same shape, strides and dtype on the meta device."""
    if isinstance(value, torch.Tensor):
        return torch.empty_strided(value.shape, value.stride(), dtype=value.dtype, device="meta")
    if isinstance(value, torch.device):
        return torch.device("meta")
    if isinstance(value, list):
        return [_meta(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_meta(v) for v in value)
    return value


def _result_sizes(overload: torch._ops.OpOverload, name: str, args: tuple, kwargs: dict,
                  where: str) -> list[tuple[int, int]]:
    """(elements, bytes per element) of each tensor of the operator's result, before it is computed: from
    the broadcast shape of a pointwise operator's tensors, the size of its tensors for an operator whose
    result is no larger (a reduction, ``cat``), else from running it on the meta device (shapes only; a
    factory operator is told the device). Pointwise operators and reductions are not run on the meta
    device: many of their meta kernels are Python code whose first call imports ``torch._dynamo`` (2 s).
    None for an operator whose result's size depends on values, which has no meta kernel."""
    tensors = _tensors((args, tuple(kwargs.values())))
    returned = len(overload._schema.returns)
    size = max([8, *(t.element_size() for t in tensors)])
    if torch.Tag.pointwise in overload.tags:
        shape = _broadcast([tuple(t.shape) for t in tensors])
        return [] if shape is None else [(math.prod(shape), size)] * returned
    if name in _NO_LARGER:
        return [(sum(t.numel() for t in tensors), size)] * returned
    position = _PRODUCTS.get(name)
    operands = args[position:position + 2] if position is not None else ()
    if len(operands) == 2 and all(isinstance(t, torch.Tensor) and t.dim() for t in operands):
        left, right = operands  # (..., n, k) @ (..., k, m): (..., n, m)
        return [(math.prod(left.shape[:-1]) * (right.shape[-1] if right.dim() > 1 else 1), size)]
    if name == "arange" and 1 <= len(args) <= 3 and all(isinstance(a, int | float) for a in args):
        start, end, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
        try:
            return [(max(0, math.ceil((end - start) / step)), size)]
        except (ArithmeticError, ValueError):  # a step of 0, an infinite end: the meta device says what
            pass
    meta_kwargs = {k: _meta(v) for k, v in kwargs.items()}
    if any(argument.name == "device" for argument in overload._schema.arguments):
        meta_kwargs["device"] = torch.device("meta")
    try:
        return [(t.numel(), t.element_size()) for t in _tensors(overload(*_meta(args), **meta_kwargs))]
    except Exception as exc:  # noqa: BLE001
        if name in _DATA_DEPENDENT:
            return []
        raise GraphError(f"{where} cannot be run: {type(exc).__name__}: {str(exc)[:200]}") from None


def _broadcast(shapes: list[tuple[int, ...]]) -> tuple[int, ...] | None:
    """The shape ``shapes`` broadcast to, None if they do not broadcast (``torch.broadcast_shapes``, which
    imports sympy on its first call)."""
    result: list[int] = []
    for sizes in itertools.zip_longest(*(reversed(s) for s in shapes), fillvalue=1):
        wide = {n for n in sizes if n != 1}
        if len(wide) > 1:
            return None
        result.append(wide.pop() if wide else 1)
    return tuple(reversed(result))


def _work(name: str, args: tuple, results: list[int]) -> int:
    """Elements read and written by one operator (``results``: the elements of its result's tensors), with
    its multiplications for a product, a convolution or a factorisation."""
    tensors = _tensors(args)
    out = sum(results)
    done = sum(t.numel() for t in tensors) + out
    position = _PRODUCTS.get(name, 1 if _CONVOLUTION.search(name) else None)
    operand = args[position] if position is not None and len(args) > position else None
    if isinstance(operand, torch.Tensor):  # the left operand's last side, or the weight's size per output
        done += out * (operand.shape[-1] if name in _PRODUCTS and operand.dim() else math.prod(operand.shape[1:]))
    elif _FACTORISATION.search(name) and tensors:
        largest = max(tensors, key=lambda t: t.numel())
        done += largest.numel() * max(largest.shape, default=1)
    return done
