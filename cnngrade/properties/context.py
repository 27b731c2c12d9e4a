"""One check of one implementation: :class:`CheckContext`, what every property is written against.

A tensor suite (:mod:`.pooling`, :mod:`.convolution`) subclasses :class:`CheckContext` for its
cases, saying how to call the implementation (``fn(x, **kwargs)``, ``cls(**kwargs)(x)`` or
``layer(x)``), what the call should return (the output shape and its formula, torch's result)
and why torch refuses an error case. On top of that the context calls the implementation on
copies of a case's tensors and words each failure as one sentence::

    {call} on {subject}: {problem}. Smallest failing input: {tensors}. (property: {name})

:class:`Context` is the little the runner needs of any context (a tensor suite's, or an
arithmetic check's, :class:`~cnngrade.properties.arithmetic.ArithmeticContext`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import torch

from cnngrade.properties.calling import adapt_kind, callable_name, exception_text, fresh, reraised
from cnngrade.properties.comparison import describe_mismatch, mismatch
from cnngrade.properties.failure import PropertyFailed
from cnngrade.properties.formatting import describe_result, format_shape, format_value
from cnngrade.properties.supports import Supports, SupportsArg, as_supports


class Context(Protocol):
    """What :func:`~cnngrade.properties.running.run_check` needs of a context: the implementation's
    ``name`` (for Hypothesis's keys), its ``supports`` declaration, the ``fixed`` arguments of a
    layer instance (None otherwise), and ``prop``, the property running, which it sets."""

    name: str
    supports: Supports
    prop: str

    @property
    def fixed(self) -> dict[str, Any] | None: ...


class Case(Protocol):
    """What the shared machinery needs of a suite's case (a dataclass): the call's keyword arguments."""

    @property
    def kwargs(self) -> dict[str, Any]: ...


CaseT = TypeVar("CaseT", bound=Case)
ContextT = TypeVar("ContextT", bound="CheckContext[Any]")


@dataclass
class CheckContext(ABC, Generic[CaseT]):
    """One check of one implementation: how to call it, how to word its failures, what torch gives.

    Each suite (:mod:`.pooling`, :mod:`.convolution`) subclasses it for its cases, whose tensor
    fields are named as the implementation's arguments (:meth:`arguments`). The properties the
    suites share (:mod:`.shared`) and :func:`~cnngrade.properties.running.run_check` use only
    this interface.
    """

    kind: str
    fn: Any
    mode: str  # "function", "class" or "instance"
    name: str
    supports: Supports
    fixed: dict[str, Any] | None
    prop: str = ""

    #: how no_mutation's failures name an argument ("its argument weight") and the rule they end with
    argument_word: ClassVar[str] = "argument"
    must_not_modify: ClassVar[str] = "it must not modify its arguments"

    @classmethod
    def of(cls: type[ContextT], kind: str, fn: Any, supports: SupportsArg) -> ContextT:
        """The context for checking ``fn`` (a function, an ``nn.Module`` instance, whose arguments
        are then fixed by its attributes, or an ``nn.Module`` class) as a ``kind``."""
        mode = adapt_kind(fn)
        fixed = None
        if mode == "instance":
            if not hasattr(fn, "kernel_size"):
                raise TypeError(
                    f"cannot check the layer {callable_name(fn)}: it has no kernel_size attribute to read "
                    "its arguments from (pass a function or the layer's class instead)"
                )
            fixed = cls.fixed_arguments(kind, fn)
        return cls(kind, fn, mode, callable_name(fn), as_supports(supports), fixed)

    # -- what each suite defines ----------------------------------------------------------------

    @classmethod
    @abstractmethod
    def fixed_arguments(cls, kind: str, layer: torch.nn.Module) -> dict[str, Any]:
        """The arguments a layer instance fixes, read from its attributes."""

    @property
    @abstractmethod
    def torch_name(self) -> str:
        """The torch function the implementation must agree with, for messages."""

    @abstractmethod
    def arguments(self, case: CaseT) -> dict[str, torch.Tensor | None]:
        """The tensors ``case`` passes, by argument name (also the names of ``case``'s fields)."""

    @abstractmethod
    def invoke(self, case: CaseT) -> Any:
        """Call the implementation on ``case``'s tensors themselves (no copies)."""

    @abstractmethod
    def describe(self, case: CaseT) -> str:
        """The call, as messages show it: ``max_pool2d(x, kernel_size=2)``."""

    @abstractmethod
    def subject(self, case: CaseT) -> str:
        """What it was called on: ``a (1, 1, 3, 3) float32 tensor``."""

    @abstractmethod
    def expected_shape(self, case: CaseT) -> tuple[tuple[int, ...], str]:
        """The output shape the implementation must return, and its formula in words."""

    @abstractmethod
    def reference(self, case: CaseT, **tensors: torch.Tensor) -> torch.Tensor:
        """torch's output for ``case``, with some of its tensors replaced by ``tensors``."""

    @abstractmethod
    def gradient_tolerance(
        self, case: CaseT, expected: torch.Tensor, reference: torch.Tensor
    ) -> tuple[torch.Tensor, int]:
        """``(bound, terms)`` for :func:`.mismatch` when comparing a gradient with torch's
        ``expected`` one (``reference``: torch's output)."""

    @abstractmethod
    def error_reason(self, case: CaseT) -> str:
        """Why torch refuses the arguments of an error case, for messages."""

    # -- calling and failing --------------------------------------------------------------------

    def tensors(self, case: CaseT) -> dict[str, torch.Tensor]:
        """:meth:`arguments` without the ``None`` ones."""
        return {k: v for k, v in self.arguments(case).items() if v is not None}

    def fail(
        self,
        case: CaseT,
        problem: str,
        *,
        expected: Any = None,
        seen: Any = None,
        inputs: dict[str, Any] | None = None,
    ) -> PropertyFailed:
        """The failure of the current property on ``case``, showing its tensors and ``inputs``."""
        call = self.describe(case)
        shown = {**self.arguments(case), **(inputs or {})}
        listing = ", ".join(f"{k} = {format_value(v)}" for k, v in shown.items())
        message = (
            f"{call} on {self.subject(case)}: {problem.rstrip('.')}. Smallest failing input: "
            f"{listing}. (property: {self.prop})"
        )
        return PropertyFailed(
            message,
            property=self.prop,
            expected=expected,
            seen=seen,
            counterexample={**shown, **case.kwargs},
            function=call,
        )

    def call(self, case: CaseT, *, on: str = "") -> torch.Tensor:
        """The implementation's output on copies of ``case``'s tensors (see :func:`.fresh`), which
        must be a tensor; ``on`` starts the problem's wording (``"on y: "``)."""
        try:
            out = self.invoke(replace(case, **{k: fresh(v) for k, v in self.arguments(case).items()}))
        except Exception as exc:
            if reraised(exc):
                raise
            raise self.fail(case, f"{on}raised {exception_text(exc)}", expected="a tensor", seen=exc) from exc
        if not isinstance(out, torch.Tensor):
            raise self.fail(
                case,
                f"{on}should return a tensor but returned {describe_result(out)}",
                expected="a tensor",
                seen=out,
            )
        return out

    def check_shape(self, case: CaseT, out: torch.Tensor, *, on: str = "") -> None:
        """Fail unless ``out`` has the expected shape."""
        expected, formula = self.expected_shape(case)
        if tuple(out.shape) != expected:
            raise self.fail(
                case,
                f"{on}output shape should be {format_shape(expected)} ({formula}) but was "
                f"{format_shape(out.shape)}",
                expected=expected,
                seen=tuple(out.shape),
            )

    def call_shaped(self, case: CaseT, *, on: str = "") -> torch.Tensor:
        """:meth:`call`, and the output must have the expected shape."""
        out = self.call(case, on=on)
        self.check_shape(case, out, on=on)
        return out

    def compare(
        self,
        case: CaseT,
        seen: torch.Tensor,
        expected: torch.Tensor,
        *,
        what: str,
        exact: bool = False,
        bound: torch.Tensor | None = None,
        terms: int = 1,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        """Fail unless ``seen`` has ``expected``'s shape and dtype and equals it (see :func:`.mismatch`);
        ``what`` says what should hold."""
        if tuple(seen.shape) != tuple(expected.shape):
            raise self.fail(
                case,
                f"{what}: the output shape should be {format_shape(expected.shape)} but was "
                f"{format_shape(seen.shape)}",
                expected=tuple(expected.shape),
                seen=tuple(seen.shape),
                inputs=inputs,
            )
        if seen.dtype != expected.dtype:
            raise self.fail(
                case,
                f"the output dtype should be {expected.dtype} (the input's) but was {seen.dtype}",
                expected=expected.dtype,
                seen=seen.dtype,
                inputs=inputs,
            )
        bad = mismatch(seen, expected, exact=exact, bound=bound, terms=terms)
        if bool(bad.any()):
            raise self.fail(
                case,
                f"{what}, but it {describe_mismatch(seen, expected, bad)}",
                expected=expected.detach(),
                seen=seen.detach(),
                inputs=inputs,
            )
