"""One call of a lab function traced to ATen operators, as plain data (:class:`~cnngrade.submission.handle.OpGraph`).

Runs wherever the student code runs (in this process, or in the sandboxed child). The call runs once on
real tensors under a dispatch mode that records every ATen operator it reaches, whatever Python path
leads there, so Python control flow on shapes (and on values read with ``.item()``, ``.tolist()``,
NumPy) is followed as it happened, those values becoming constants of the graph. Where the call
modified a tensor in place (``padded[...] = x``), the recorded operators are run again under
``torch.func.functionalize``, which replaces in-place operators by functional ones (``slice_scatter``),
and recorded again: the graph holds no mutation. (``make_fx`` would do the same, but its first call
imports ``torch._inductor``: 1.5 s.) Nothing here is trusted by the grader: it checks the graph by
running it itself (:mod:`cnngrade.grader.op_graphs`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cnngrade.submission.errors import StudentCodeError
from cnngrade.submission.handle import OpGraph, OpName, OpNode, OpRef, graph_inputs

#: the names of OpName kinds, by the type of the argument
_NAMED = ((torch.dtype, "dtype"), (torch.layout, "layout"), (torch.memory_format, "memory_format"),
          (torch.device, "device"))


class Untraceable(Exception):
    """The call could not be turned into an operator graph (not the student's exception)."""


class _Recorder(TorchDispatchMode):
    """Records every ATen operator dispatched inside it, each tensor argument as a reference to an input
    or an earlier result (by identity), or as a constant (a copy) where it is neither."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch would wrap __torch_dispatch__ to keep torch.compile out of it, importing torch._dynamo
        # (and sympy: about 1.3 s) on the first recording; a recorder needs no such guard
        return False

    def __init__(self, inputs: list[torch.Tensor]) -> None:
        super().__init__()
        self.refs: dict[int, OpRef] = {id(t): OpRef("input", i) for i, t in enumerate(inputs)}
        self.alive: list[object] = list(inputs)  # every tensor seen, so that no id is reused
        self.nodes: list[tuple[torch._ops.OpOverload, tuple, dict]] = []
        #: why an operator could not be recorded (the call goes on: the student's code sees no difference)
        self.failure: Untraceable | None = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
        kwargs = kwargs or {}
        try:
            recorded = (func, self.plain(tuple(args)), {k: self.plain(v) for k, v in kwargs.items()})
        except Untraceable as exc:
            self.failure = self.failure or exc
            recorded = (func, (), {})
        out = func(*args, **kwargs)
        index = len(self.nodes)
        self.nodes.append(recorded)
        if isinstance(out, torch.Tensor):
            self.refs[id(out)] = OpRef("node", index)
        elif isinstance(out, list | tuple):
            for item, value in enumerate(out):
                if isinstance(value, torch.Tensor):
                    self.refs[id(value)] = OpRef("node", index, item)
        self.alive.append(out)
        return out

    def plain(self, value: Any) -> Any:
        """``value`` as an argument of an :class:`OpNode`."""
        if isinstance(value, torch.Tensor):
            ref = self.refs.get(id(value))
            if ref is not None:
                return ref
            self.alive.append(value)
            with torch._C.DisableTorchFunction():
                return value.detach().as_subclass(torch.Tensor).clone()
        if isinstance(value, list):
            return [self.plain(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.plain(v) for v in value)
        for kind, name in _NAMED:
            if isinstance(value, kind):
                return OpName(name, str(value).removeprefix("torch."))
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise Untraceable(f"an argument of type {type(value).__name__}")


def trace_call(fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> OpGraph:
    """``fn(*args, **kwargs)`` traced to ATen operators; the call's tensors are the graph's inputs
    (:func:`~cnngrade.submission.handle.graph_inputs`). An exception of ``fn`` is raised as ``fn`` raises
    it; a call that cannot be traced raises :class:`StudentCodeError` saying so."""
    tensors = graph_inputs(args, kwargs)
    originals = [t.detach().clone() for t in tensors]  # as given (the call may modify its arguments)
    try:
        recorder = _Recorder(tensors)
        with recorder:
            returned = fn(*args, **kwargs)
        if recorder.failure is not None:
            raise recorder.failure
        output = recorder.plain(returned)
        nodes = recorder.nodes
        if any(func._schema.is_mutable for func, _, _ in nodes):
            nodes, output = _functionalized(nodes, output, originals)
        graph = OpGraph(len(tensors), tuple(OpNode(str(func), a, k) for func, a, k in nodes), output)
    except (Exception, SystemExit) as exc:
        reason = exc
    else:
        return graph
    fn(*args, **kwargs)  # the student's own exception, if it was one, raised as such
    name = getattr(fn, "__name__", "the function")
    raise StudentCodeError(
        f"{name} could not be traced to torch operators ({type(reason).__name__}: {str(reason)[:300]}), and the "
        f"grader checks from that trace that it is written from scratch. Compute {name} with torch operations "
        "on tensors."
    )


def _functionalized(nodes: list, output: Any, inputs: list[torch.Tensor]) -> tuple[list, Any]:
    """The recorded ``nodes`` (with ``output``) run again on ``inputs`` under ``torch.func.functionalize``
    and recorded: the same computation without in-place operators. The copies back into inputs that
    functionalization adds (for a call that modified its arguments) are left out."""
    from torch.func import functionalize

    def replay(*given: torch.Tensor) -> Any:
        results: list[Any] = []
        for func, args, kwargs in nodes:
            results.append(func(*_values(args, given, results), **_values(kwargs, given, results)))
        return _values(output, given, results)

    recorder = _Recorder(inputs)
    with recorder:
        returned = functionalize(replay, remove="mutations")(*inputs)
    functional = recorder.plain(returned)
    kept, moved = [], {}
    for index, (func, args, kwargs) in enumerate(recorder.nodes):
        target = args[0] if args else None
        if func is torch.ops.aten.copy_.default and isinstance(target, OpRef) and target.source == "input":
            continue
        moved[index] = len(kept)
        kept.append((func, args, kwargs))
    if len(kept) == len(recorder.nodes):
        return kept, functional
    return [(func, _renumbered(a, moved), _renumbered(k, moved)) for func, a, k in kept], _renumbered(functional, moved)


def _values(value: Any, given: tuple, results: list) -> Any:
    """A recorded argument with its references replaced by the tensors they refer to."""
    if isinstance(value, OpRef):
        found = given[value.index] if value.source == "input" else results[value.index]
        return found if value.item is None else found[value.item]
    if isinstance(value, OpName):
        return torch.device(value.name) if value.kind == "device" else getattr(torch, value.name)
    if isinstance(value, list):
        return [_values(v, given, results) for v in value]
    if isinstance(value, tuple):
        return tuple(_values(v, given, results) for v in value)
    if isinstance(value, dict):
        return {k: _values(v, given, results) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.clone()
    return value


def _renumbered(value: Any, moved: dict[int, int]) -> Any:
    """A recorded argument with its node references renumbered (``moved``: old index to new)."""
    if isinstance(value, OpRef) and value.source == "node":
        return OpRef("node", moved[value.index], value.item)
    if isinstance(value, list):
        return [_renumbered(v, moved) for v in value]
    if isinstance(value, tuple):
        return tuple(_renumbered(v, moved) for v in value)
    if isinstance(value, dict):
        return {k: _renumbered(v, moved) for k, v in value.items()}
    return value
