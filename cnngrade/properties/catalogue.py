"""Properties, the ordered catalogue of one check, and which of them a run selects.

A :class:`Property` is a named Hypothesis test written against a context (what the check knows
of the implementation): ``strategy(ctx)`` draws a tuple of arguments, ``body(ctx, *args)``
raises :class:`~cnngrade.properties.failure.PropertyFailed` when the property does not hold.
A :class:`Catalogue` lists a check's properties in the order they run. A run takes

    applicable = [p for p in catalogue if p.scope(declaration, instance's arguments) is None]
    selected   = [p for p in applicable if p in only (when given) and p not in skip]

(:func:`select`, which also refuses ``only`` / ``skip`` names the check does not have). A property
out of scope says why (:meth:`Property.scope`): its axis is not declared, the declaration leaves it
nothing to draw, or a layer instance's fixed arguments do not allow it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from cnngrade.properties.failure import UsageError
from cnngrade.properties.supports import Supports

#: draws a property's arguments, or one case, for a context: ``strategy(ctx)``
Draw = Callable[[Any], st.SearchStrategy]
#: the property names a check's ``only=`` / ``skip=`` accept: one name or several
Names = str | Iterable[str] | None


@dataclass(frozen=True)
class Property:
    """One property: ``strategy(ctx)`` draws a tuple of arguments, ``body(ctx, *args)`` checks them.

    ``axis``: the Supports attribute (a declared axis, or a derived one such as
    ``checks_errors``) the property needs (None: always), and ``off``, why it is out of scope
    without it. ``needs``: a further test of the declaration, giving why it is out of scope (or
    None). ``varies_args``: the property chooses the call's arguments itself, so it does not
    apply to a module instance, whose arguments are fixed. ``applies``: a further test on the
    instance's fixed arguments.
    """

    name: str
    summary: str
    strategy: Draw
    body: Callable[..., None]
    axis: str | None = None
    off: str = ""
    needs: Callable[[Supports], str | None] | None = None
    varies_args: bool = False
    applies: Callable[[dict[str, Any]], bool] | None = None

    def scope(self, supports: Supports, fixed: dict[str, Any] | None) -> str | None:
        """Why the property is out of scope for this declaration (and a layer instance's ``fixed``
        arguments), or None when it applies."""
        if self.axis is not None and not getattr(supports, self.axis):
            return self.off or f"not declared ({self.axis})"
        reason = self.needs(supports) if self.needs is not None else None
        if reason:
            return reason
        if fixed is not None and self.varies_args:
            return "a layer instance's arguments are fixed"
        if fixed is not None and self.applies is not None and not self.applies(fixed):
            return "not for this layer's arguments"
        return None


def one(cases: Draw) -> Draw:
    """A property's strategy that draws one case of ``cases``: the property is ``body(ctx, case)``."""
    return lambda ctx: st.tuples(cases(ctx))


@dataclass
class Catalogue:
    """The ordered properties of one check (``check``: its name, for messages and Hypothesis keys)."""

    check: str
    properties: list[Property] = field(default_factory=list)

    def names(self) -> tuple[str, ...]:
        """The properties' names, in order."""
        return tuple(p.name for p in self.properties)

    def applicable(self, supports: Supports, fixed: dict[str, Any] | None) -> list[Property]:
        """The properties that apply to an implementation declaring ``supports`` (``fixed``: the
        arguments of a layer instance, None for anything else)."""
        return [p for p in self.properties if p.scope(supports, fixed) is None]


def select(
    catalogue: Catalogue,
    supports: Supports,
    fixed: dict[str, Any] | None,
    only: Names,
    skip: str | Iterable[str],
) -> list[Property]:
    """The properties to run, in catalogue order; ``only`` names must exist and apply."""
    known = set(catalogue.names())
    skip_set = {skip} if isinstance(skip, str) else set(skip)
    only_set = None if only is None else ({only} if isinstance(only, str) else set(only))
    for name in (only_set or set()) | skip_set:
        if name not in known:
            raise UsageError(
                f"{catalogue.check} has no property {name!r}; its properties are "
                f"{', '.join(catalogue.names())}"
            )
    chosen = catalogue.applicable(supports, fixed)
    if only_set is not None:
        inapplicable = only_set - {p.name for p in chosen}
        if inapplicable:
            raise UsageError(
                f"{catalogue.check}: property {', '.join(sorted(inapplicable))} does not "
                "apply to this implementation with these supports (see property_names)"
            )
        chosen = [p for p in chosen if p.name in only_set]
    return [p for p in chosen if p.name not in skip_set]
