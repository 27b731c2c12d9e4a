"""One check of one implementation: :class:`CheckContext`, what every property is written against.

A tensor suite (:mod:`.pooling`, :mod:`.convolution`) subclasses :class:`CheckContext` for its
cases, saying how to call each kind of implementation (:mod:`.calling`) and its backward, what
the call should return (the output shape and its formula, torch's result) and why torch refuses
an error case. On top of that the context hands the implementation copies of a case's tensors in
the form it declared (:mod:`.boundary`), takes its result back, and words each failure as one
sentence::

    {call} on {subject}: {problem}. Smallest failing input: {tensors}. (property: {name})

It also keeps the :class:`Tally` of the property running: the examples it could not judge (no
gradient to compare, a ``NotImplementedError`` for illegal arguments), so that a property that
could judge none is reported out of scope rather than as holding.

:class:`Context` is the little the runner needs of any context (a tensor suite's, or an
arithmetic check's, :class:`~cnngrade.properties.arithmetic.ArithmeticContext`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import torch

from cnngrade.properties.boundary import Boundary, format_argument
from cnngrade.properties.calling import adapt_kind, callable_name, exception_text, fresh, reraised
from cnngrade.properties.comparison import describe_mismatch, mismatch
from cnngrade.properties.failure import PropertyFailed, UsageError
from cnngrade.properties.formatting import describe_result, format_shape
from cnngrade.properties.hints import keyword_hints
from cnngrade.properties.supports import Supports, SupportsArg, as_supports


@dataclass
class Tally:
    """What one property's examples came to: ``judged`` examples, and the reasons (with counts) of
    those it could not judge."""

    judged: int = 0
    unjudged: Counter[str] = field(default_factory=Counter)

    def outside(self, reason: str) -> None:
        """Record an example that could not be judged, and why."""
        self.unjudged[reason] += 1

    def note(self) -> str:
        """``""``, or why examples went unjudged: ``3 examples: no gradient to compare``."""
        return "; ".join(f"{n} example{'s' if n > 1 else ''}: {reason}" for reason, n in self.unjudged.items())


class Context(Protocol):
    """What :func:`~cnngrade.properties.running.run_table` needs of a context: the implementation's
    ``name`` (for Hypothesis's keys), its ``supports`` declaration, the ``fixed`` arguments of a
    layer instance (None otherwise), ``prop``, the property running, and its ``tally``, both of
    which the runner sets."""

    name: str
    supports: Supports
    prop: str
    tally: Tally

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
    suites share (:mod:`.shared`, :mod:`.gradients`) and the runner use only this interface.
    """

    kind: str
    fn: Any
    mode: str  # see cnngrade.properties.calling
    name: str
    supports: Supports
    fixed: dict[str, Any] | None
    backward: Callable[..., Any] | None = None
    prop: str = ""
    tally: Tally = field(default_factory=Tally)

    #: how no_mutation's failures name an argument ("its argument weight") and the rule they end with
    argument_word: ClassVar[str] = "argument"
    must_not_modify: ClassVar[str] = "it must not modify its arguments"
    #: the role (see cnngrade.properties.boundary) of each tensor by its name in cases and messages
    roles: ClassVar[dict[str, str]] = {}

    @classmethod
    def of(
        cls: type[ContextT], kind: str, fn: Any, supports: SupportsArg, backward: Callable[..., Any] | None = None
    ) -> ContextT:
        """The context for checking ``fn`` as a ``kind`` under the declaration ``supports`` (a
        module instance's arguments are fixed by its attributes), or :class:`UsageError`."""
        declared = as_supports(supports)
        mode = adapt_kind(fn, declared.calling, backward)
        if declared.array == "numpy" and mode in ("class", "instance", "autograd"):
            raise UsageError(
                "numpy arrays cannot go through an nn.Module or an autograd.Function; declare array='torch'"
            )
        cls.check_declaration(kind, declared, mode)
        fixed = None
        if mode == "instance":
            if not hasattr(fn, "kernel_size"):
                raise UsageError(
                    f"cannot check the layer {callable_name(fn)}: it has no kernel_size attribute to read "
                    "its arguments from (pass a function or the layer's class instead)"
                )
            fixed = cls.fixed_arguments(kind, fn)
        return cls(kind, fn, mode, callable_name(fn), declared, fixed, backward)

    @property
    def boundary(self) -> Boundary:
        """How tensors cross to the implementation and back (its declared arrays and layouts)."""
        s = self.supports
        return Boundary(s.array == "numpy", s.channels_at_end, s.weight_layout == "HWIO")

    @property
    def has_backward(self) -> bool:
        """Whether the implementation comes with a backward of its own (not autograd's)."""
        return self.backward is not None or (self.mode == "layer" and callable(getattr(self.fn, "backward", None)))

    # -- what each suite defines ----------------------------------------------------------------

    @classmethod
    @abstractmethod
    def check_declaration(cls, kind: str, supports: Supports, mode: str) -> None:
        """Raise :class:`UsageError` where the declaration cannot be honoured for this kind."""

    @classmethod
    @abstractmethod
    def fixed_arguments(cls, kind: str, layer: torch.nn.Module) -> dict[str, Any]:
        """The arguments a layer instance fixes, read from its attributes."""

    @property
    @abstractmethod
    def torch_name(self) -> str:
        """The torch function the implementation must agree with, for messages."""

    @property
    @abstractmethod
    def output_role(self) -> str:
        """The role of the output (and of the upstream gradient): ``image`` or ``plain``."""

    @abstractmethod
    def arguments(self, case: CaseT) -> dict[str, torch.Tensor | None]:
        """The tensors ``case`` passes, by argument name (also the names of ``case``'s fields)."""

    @abstractmethod
    def dispatch(self, case: CaseT, args: dict[str, Any]) -> tuple[Any, Any]:
        """Call the implementation on ``args`` (``case``'s tensors in its form): its output, and
        what its backward needs (a cs231n cache, the layer built), or None."""

    @abstractmethod
    def dispatch_backward(self, case: CaseT, args: dict[str, Any], state: Any, dout: Any) -> Any:
        """Call the implementation's backward with the upstream gradient ``dout`` (its form), after
        the forward call on ``args`` that gave ``state``; its raw result."""

    @abstractmethod
    def describe(self, case: CaseT) -> str:
        """The call, as messages show it: ``max_pool2d(x, kernel_size=2)``."""

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

    @abstractmethod
    def hints(self, case: CaseT) -> tuple[str, ...]:
        """The declarations that would leave ``case`` out (for an implementation that raised on it)."""

    # -- the implementation's side of the boundary ----------------------------------------------

    def keywords(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` under the implementation's own names (the declaration's ``names``)."""
        return {self.supports.name_of(k): v for k, v in kwargs.items()}

    def tensors(self, case: CaseT) -> dict[str, torch.Tensor]:
        """:meth:`arguments` without the ``None`` ones."""
        return {k: v for k, v in self.arguments(case).items() if v is not None}

    def outgoing(self, case: CaseT, *, copies: bool = True) -> dict[str, Any]:
        """``case``'s tensors in the implementation's form (copies of them, unless ``copies`` is off)."""
        return {
            name: self.boundary.outgoing(fresh(t) if copies else t, self.roles.get(name, "image"))
            for name, t in self.arguments(case).items()
        }

    def subject(self, case: CaseT) -> str:
        """What it was called on: ``a (1, 1, 3, 3) float32 tensor``, ``a (1, 3, 3, 1) float64 array``."""
        first = next(iter(self.arguments(case)))
        value = self.boundary.outgoing(self.arguments(case)[first], self.roles.get(first, "image"))
        layout = getattr(case, "layout", "contiguous")
        where = "" if layout == "contiguous" else f"{layout} "
        dtype = str(value.dtype).removeprefix("torch.")
        return f"a {where}{format_shape(value.shape)} {dtype} {self.boundary.kind()}{self.subject_suffix(case)}"

    def subject_suffix(self, case: CaseT) -> str:
        """What :meth:`subject` adds after the first tensor (a convolution: its weight)."""
        return ""

    # -- calling and failing --------------------------------------------------------------------

    def fail(
        self,
        case: CaseT,
        problem: str,
        *,
        expected: Any = None,
        seen: Any = None,
        inputs: dict[str, Any] | None = None,
    ) -> PropertyFailed:
        """The failure of the current property on ``case``, showing its tensors and ``inputs``, in
        the form the implementation takes them."""
        call = self.describe(case)
        shown = {
            name: self.boundary.outgoing(v, self.roles.get(name, "image")) if isinstance(v, torch.Tensor) else v
            for name, v in {**self.arguments(case), **(inputs or {})}.items()
        }
        listing = ", ".join(f"{k} = {format_argument(v)}" for k, v in shown.items())
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
            hints=(*keyword_hints(seen), *self.hints(case)) if isinstance(seen, BaseException) else (),
        )

    def raised(self, case: CaseT, exc: Exception, *, on: str = "", what: str = "a tensor") -> PropertyFailed:
        """The failure for the implementation raising ``exc`` on ``case`` (a NotImplementedError:
        on a case its declaration covers)."""
        if isinstance(exc, NotImplementedError):
            problem = (
                f"{on}raised {exception_text(exc)}, for a case its declaration covers (declare less to "
                "leave such cases out of scope)"
            )
        else:
            problem = f"{on}raised {exception_text(exc)}"
        return self.fail(case, problem, expected=what, seen=exc)

    def invoke(self, case: CaseT, args: dict[str, Any] | None = None) -> tuple[Any, Any]:
        """The implementation's raw output and backward state on ``args`` (default: copies of
        ``case``'s tensors in its form); its exceptions propagate."""
        return self.dispatch(case, self.outgoing(case) if args is None else args)

    def receive(self, case: CaseT, raw: Any, *, on: str = "") -> torch.Tensor:
        """The output ``raw`` as a tensor in the checks' form, or the failure saying what it was."""
        out = self.boundary.incoming(raw, self.output_role)
        if out is None:
            kind = self.boundary.kind()
            raise self.fail(
                case,
                f"{on}should return a{'n' if kind == 'array' else ''} {kind} but returned {describe_result(raw)}",
                expected=f"a {kind}",
                seen=raw,
            )
        return out

    def call_with_state(self, case: CaseT, *, on: str = "") -> tuple[torch.Tensor, Any, dict[str, Any]]:
        """:meth:`call`, with the backward state and the arguments the implementation received."""
        args = self.outgoing(case)
        try:
            raw, state = self.dispatch(case, args)
        except Exception as exc:
            if reraised(exc):
                raise
            raise self.raised(case, exc, on=on) from exc
        return self.receive(case, raw, on=on), state, args

    def call(self, case: CaseT, *, on: str = "") -> torch.Tensor:
        """The implementation's output on copies of ``case``'s tensors (see :func:`.fresh`), which
        must be an array of its declared kind; ``on`` starts the problem's wording (``"on y: "``)."""
        return self.call_with_state(case, on=on)[0]

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
        strict: bool = False,
    ) -> None:
        """Fail unless ``seen`` has ``expected``'s shape and equals it (see :func:`.mismatch`;
        ``strict``: within the rounding of a sum only); ``what`` says what should hold. Values
        are compared in ``expected``'s dtype; the output's own dtype is its own property, unless
        the declaration asks for it here too (``dtype_in_values``)."""
        if tuple(seen.shape) != tuple(expected.shape):
            raise self.fail(
                case,
                f"{what}: the output shape should be {format_shape(expected.shape)} but was "
                f"{format_shape(seen.shape)}",
                expected=tuple(expected.shape),
                seen=tuple(seen.shape),
                inputs=inputs,
            )
        if self.supports.dtype_in_values and seen.dtype != expected.dtype:
            raise self.fail(
                case,
                f"the output dtype should be {expected.dtype} (the input's) but was {seen.dtype}",
                expected=expected.dtype,
                seen=seen.dtype,
                inputs=inputs,
            )
        if seen.dtype != expected.dtype:
            seen = seen.detach().to(expected.dtype)
        bad = mismatch(seen, expected, exact=exact, bound=bound, terms=terms, strict=strict)
        if bool(bad.any()):
            raise self.fail(
                case,
                f"{what}, but it {describe_mismatch(seen, expected, bad)}",
                expected=expected.detach(),
                seen=seen.detach(),
                inputs=inputs,
            )
