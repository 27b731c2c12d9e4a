"""Checks that several grader files share: a property of a cnngrade.properties suite run through the
submission handle, and "written from scratch" (no forbidden torch operator underneath, as
``[from_scratch.*]`` of lab.toml lists them, in an operator graph the grader checks by running it:
:mod:`cnngrade.grader.op_graphs`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from cnngrade.grader import op_graphs
from cnngrade.grader.feedback import expect, fail
from cnngrade.grader.questions import describe, show
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.properties import PropertyFailed, Supports
from cnngrade.submission.errors import StudentCodeError
from cnngrade.submission.handle import OpGraph, Submission, graph_inputs

#: what the lab's pooling and conv-math functions declare (docs/properties.md): int or pair arguments,
#: (N, C, H, W), (C, H, W) and, for pooling, (H, W) inputs, torch's errors (ValueError or RuntimeError)
#: for illegal arguments, and a wrong output dtype failing every value property
LAB_SUPPORTS = Supports(layouts=("NCHW", "CHW", "HW"), errors="torch", dtype_in_values=True)


def check_property(submission: Submission, check: Callable[..., Any], name: str, prop: str,
                   supports: Supports = LAB_SUPPORTS) -> None:
    """Run the property ``prop`` of ``check`` (a cnngrade.properties suite, ``ci`` profile) on the
    submission's function ``name``, declared as ``supports`` (the lab's, by default); fail the grader
    check with the smallest counterexample."""

    def through_handle(*args: Any, **kwargs: Any) -> Any:
        try:
            return submission.call(name, *args, **kwargs)
        except StudentCodeError as exc:  # the suite expects the student's exception as raised
            if not exc.exception_type:  # no exception of the student's: the sandbox stopped the call
                raise
            raise exc.as_builtin() from None

    through_handle.__name__ = name
    try:
        check(through_handle, supports=supports, only=prop, profile="ci")
    except PropertyFailed as exc:
        fail(str(exc))


def exercise_mismatch(seen: Any, expected: torch.Tensor, atol: float = 1e-4) -> str | None:
    """``None`` when ``seen`` is the tensor ``expected`` (within ``atol``), else what is wrong with it, to
    follow the call's description: its type, its shape, or which (row, column) elements are wrong,
    never the right values (an exercise whose result answers one of the lab's questions)."""
    if not isinstance(seen, torch.Tensor):
        return f"returned {show(seen)} ({describe(seen)}), not a tensor of shape {tuple(expected.shape)}."
    if seen.shape != expected.shape:
        return f"returned a tensor of shape {tuple(seen.shape)}; the result has shape {tuple(expected.shape)}."
    wrong = ~torch.isclose(seen.double(), expected.double(), atol=atol)
    if not wrong.any():
        return None
    where = ", ".join(str(tuple(i)) for i in wrong.nonzero().tolist())
    return (f"returned {show(seen)}, with {int(wrong.sum())} of its {wrong.numel()} elements wrong, at {where} "
            "(row, column); the right values are not shown, as they answer the lab's questions.")


@dataclass(frozen=True)
class FromScratch:
    """What "written from scratch" forbids in one part of the lab (``[from_scratch.PART]`` of lab.toml):
    ``forbidden`` names of ATen operators (see :func:`forbidden_ops`) and ``hint``, what the template
    allows instead, in its own words."""

    forbidden: tuple[str, ...]
    hint: str

    @classmethod
    def from_lab(cls, lab: LabConfig, part: str) -> FromScratch:
        """``[from_scratch.PART]`` of ``lab``, or :class:`ConfigError` naming what is wrong with it."""
        table = lab.setting(f"from_scratch.{part}")
        if not isinstance(table, dict):
            raise ConfigError(f"{lab.path}: [from_scratch.{part}] must be a table with forbidden and hint.")
        forbidden, hint = table.get("forbidden"), table.get("hint")
        if not isinstance(forbidden, list) or not forbidden or not all(isinstance(f, str) and f for f in forbidden):
            raise ConfigError(f"{lab.path}: [from_scratch.{part}] forbidden must be a list of operator names.")
        if not isinstance(hint, str):
            raise ConfigError(f"{lab.path}: [from_scratch.{part}] hint must be a string.")
        return cls(tuple(forbidden), hint)


#: the Python functions and modules that run an ATen operator, for feedback (by the operator's name)
PYTHON_SOURCES = {
    "im2col": "F.unfold / nn.Unfold",
    "col2im": "F.fold / nn.Fold",
    "max_pool2d_with_indices": "F.max_pool2d / nn.MaxPool2d",
    "avg_pool2d": "F.avg_pool2d / nn.AvgPool2d",
    "adaptive_max_pool2d": "F.adaptive_max_pool2d / nn.AdaptiveMaxPool2d",
    "_adaptive_avg_pool2d": "F.adaptive_avg_pool2d / nn.AdaptiveAvgPool2d",
    "fractional_max_pool2d": "F.fractional_max_pool2d",
    "convolution": "F.conv2d / nn.Conv2d",
}


def operator_name(op: str) -> str:
    """An operator's name without its namespace and overload: ``aten.max_pool2d_with_indices.default``
    (or ``aten::max_pool2d_with_indices``) gives ``max_pool2d_with_indices``."""
    parts = op.replace("::", ".").split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def forbidden_ops(ops: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    """The operators of ``ops`` that a name of ``forbidden`` matches, sorted, without overloads
    (``aten.im2col``). A name matches an operator whose name starts with it or has it right after an
    underscore: ``max_pool`` matches ``max_pool2d_with_indices`` and ``quantized_max_pool2d``,
    ``adaptive_`` ``_adaptive_avg_pool2d``, ``convolution`` ``mkldnn_convolution``; ``unfold``
    (``Tensor.unfold``, a view) is matched by none of ``im2col``, ``col2im``, ``convolution``."""
    names = tuple(forbidden)
    found = set()
    for op in ops:
        name = operator_name(op)
        if any(name.startswith(f) or f"_{f}" in name for f in names):
            found.add(op.rsplit(".", 1)[0] if op.count(".") >= 2 else op)
    return sorted(found)


def describe_ops(ops: list[str]) -> str:
    """``aten.im2col (F.unfold / nn.Unfold), aten.mul``: each operator with what runs it, where known."""
    shown = []
    for op in ops:
        source = PYTHON_SOURCES.get(operator_name(op))
        shown.append(f"{op} (run by {source})" if source else op)
    return ", ".join(shown)


def expect_from_scratch(submission: Submission, calls: Mapping[str, Sequence[tuple]], rules: FromScratch,
                        torch_functions: Mapping[str, Callable[..., torch.Tensor]]) -> None:
    """Fail unless each function of ``calls``, called with each of its argument tuples, is shown to be
    written from scratch: the operator graph its call ran (:meth:`Submission.op_graph`, untrusted) holds
    none of the operators ``rules`` forbids, and the grader can check that the graph is what the call
    computed (:func:`graph_problem`, with ``torch_functions[name]``, torch's own function with the lab
    function's signature), which needs the call to give torch's result. The message names every
    function and operator found, and every graph the grader could not check."""
    found: dict[str, list[str]] = {}
    wrong: dict[str, str] = {}
    problems: list[str] = []
    for name, arguments in calls.items():
        graphs = [(args, submission.op_graph(name, *_copies(args))) for args in arguments]
        if ops := forbidden_ops({node.op for _, graph in graphs for node in graph.nodes}, rules.forbidden):
            found[name] = ops
            continue
        for args, graph in graphs:
            try:
                op_graphs.validate(graph, len(graph_inputs(args)))
            except op_graphs.GraphError as exc:
                problems.append(f"the operator trace recorded for {describe_call(name, args)} cannot be checked: "
                                f"{exc}.")
                break
            returned = submission.call(name, *_copies(args))
            if not _close(returned, torch_functions[name](*_copies(args))):
                wrong[name] = describe_call(name, args)
                break
            if problem := graph_problem(name, args, graph, returned, torch_functions[name]):
                problems.append(problem)
                break
    sentences = [p[0].upper() + p[1:] for p in problems]
    if wrong:
        one = len(wrong) == 1
        sentences.insert(0, f"Fix {_and(wrong)} first (see {'its' if one else 'their'} other checks): "
                            f"{_and(wrong.values())} {'does' if one else 'do'} not give torch's result, and the "
                            f"grader checks that {'it is' if one else 'they are'} written from scratch by "
                            f"replaying the operations {'it runs' if one else 'they run'} on new values, which "
                            "must give torch's result too.")
    if found:
        sentences.append("; ".join(f"{name} uses torch's own {describe_ops(ops)}" for name, ops in found.items())
                         + f". The lab asks you to write {'it' if len(found) == 1 else 'them'} from scratch: "
                         f"{rules.hint}.")
    expect(not sentences, " ".join(sentences))


#: how close a graph's output must be to torch's, or to what the function returned
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def graph_problem(name: str, args: tuple, graph: OpGraph, returned: torch.Tensor,
                  torch_function: Callable[..., torch.Tensor]) -> str | None:
    """What keeps the grader from taking ``graph`` (validated) as what ``name(*args)`` computed (it
    ``returned`` torch's result), or None: run on the same inputs it must give what the function returned
    (else it is not the call's graph), and run on the inputs' values shuffled (values the submission never
    sees) torch's result there too (else it has the answer baked in, or leaves out what it needs)."""
    call = describe_call(name, args)
    try:
        same = op_graphs.run(graph, graph_inputs(_copies(args)))
    except op_graphs.GraphError as exc:
        return f"the operator trace recorded for {call} could not be run: {exc}."
    if not _close(same, returned, rtol=1e-5, atol=1e-6, dtype=True):
        return (f"the operator trace recorded for {call} does not compute what {name} returned (the grader ran it "
                "on the same input).")
    fresh = _copies(args, torch.Generator().manual_seed(0))
    try:
        again = op_graphs.run(graph, graph_inputs(fresh))
    except op_graphs.GraphError:
        again = None
    if not _close(again, torch_function(*_copies(fresh))):
        return (f"the grader could not reproduce {name} from its operator trace on new values: the trace of {call} "
                f"run on the same values shuffled does not give torch's result. Avoid .item(), .tolist(), NumPy and "
                f"Python branches on tensor values in {name}: the trace keeps the values they saw.")
    return None


def _and(names: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def describe_call(name: str, args: tuple) -> str:
    """``max_pool2d(<tensor of shape (1, 2, 4, 4)>, 3, 1, 1)``."""
    shown = [f"<tensor of shape {tuple(a.shape)}>" if isinstance(a, torch.Tensor) else repr(a) for a in args]
    return f"{name}({', '.join(shown)})"


def _copies(args: tuple, generator: torch.Generator | None = None) -> tuple:
    """Contiguous copies of the tensors among ``args`` (nested in tuples and lists too), each with its values
    in a random order of ``generator``'s where one is given."""
    def copy(value: Any) -> Any:
        if isinstance(value, torch.Tensor):  # contiguous, as the isolated backend sends them
            value = value.detach().clone(memory_format=torch.contiguous_format)
            if generator is None:
                return value
            order = torch.randperm(value.numel(), generator=generator)
            return value.reshape(-1)[order].reshape(value.shape)
        if isinstance(value, list | tuple):
            return type(value)(copy(v) for v in value)
        return value

    return tuple(copy(a) for a in args)


def _close(seen: Any, expected: Any, *, rtol: float = TOLERANCE["rtol"], atol: float = TOLERANCE["atol"],
           dtype: bool = False) -> bool:
    """``seen`` is a tensor of ``expected``'s shape (and dtype, with ``dtype``) and values."""
    if type(seen) is not torch.Tensor or type(expected) is not torch.Tensor or seen.shape != expected.shape:
        return False
    if dtype and seen.dtype != expected.dtype:
        return False
    try:
        return bool(torch.allclose(seen.double(), expected.double(), rtol=rtol, atol=atol, equal_nan=True))
    except (RuntimeError, TypeError):
        return False
