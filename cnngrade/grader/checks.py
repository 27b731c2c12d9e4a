"""Checks that several grader files share: a property of a cnngrade.properties suite run through the
submission handle, and "written from scratch" (no forbidden torch operator underneath, as
``[from_scratch.*]`` of lab.toml lists them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from cnngrade.grader.feedback import expect, fail
from cnngrade.grader.questions import describe, show
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.properties import PropertyFailed
from cnngrade.submission.errors import StudentCodeError
from cnngrade.submission.handle import Submission


def check_property(submission: Submission, check: Callable[..., Any], name: str, prop: str) -> None:
    """Run the property ``prop`` of ``check`` (a cnngrade.properties suite, ``ci`` profile) on the
    submission's function ``name``; fail the grader check with the smallest counterexample."""

    def through_handle(*args: Any, **kwargs: Any) -> Any:
        try:
            return submission.call(name, *args, **kwargs)
        except StudentCodeError as exc:  # the suite expects the student's exception as raised
            raise exc.as_builtin() from None

    through_handle.__name__ = name
    try:
        check(through_handle, only=prop, profile="ci")
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


def expect_from_scratch(submission: Submission, calls: Mapping[str, Sequence[tuple]], rules: FromScratch) -> None:
    """Fail unless each function of ``calls``, called with each of its argument tuples, runs none of
    the operators ``rules`` forbids; the message names every function and operator found."""
    found = {}
    for name, arguments in calls.items():
        used: set[str] = set()
        for args in arguments:
            used.update(submission.ops_used(name, *args))
        if ops := forbidden_ops(used, rules.forbidden):
            found[name] = ops
    expect(not found, "; ".join(f"{name} uses torch's own {describe_ops(ops)}" for name, ops in found.items())
           + f". The lab asks you to write {'it' if len(found) == 1 else 'them'} from scratch: {rules.hint}.")
