"""Properties, the ordered catalogue of one check, and which of them a run selects.

A :class:`Property` is a named Hypothesis test written against a context (what the check knows
of the implementation): ``strategy(ctx)`` draws a tuple of arguments, ``body(ctx, *args)``
raises :class:`~cnngrade.properties.failure.PropertyFailed` when the property does not hold.
A :class:`Catalogue` lists a check's properties in the order they run. A run takes

    applicable = [p for p in catalogue if p.axis is declared, and, for a layer instance,
                  p does not vary the arguments and p.applies(instance's arguments)]
    selected   = [p for p in applicable if p in only (when given) and p not in skip]

(:func:`select`, which also refuses ``only`` / ``skip`` names the check does not have).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from cnngrade.properties.supports import Supports

#: draws a property's arguments, or one case, for a context: ``strategy(ctx)``
Draw = Callable[[Any], st.SearchStrategy]
#: the property names a check's ``only=`` / ``skip=`` accept: one name or several
Names = str | Iterable[str] | None


@dataclass(frozen=True)
class Property:
    """One property: ``strategy(ctx)`` draws a tuple of arguments, ``body(ctx, *args)`` checks them.

    ``axis``: the Supports axis the property needs (None: always). ``varies_args``: the property
    chooses the call's arguments itself, so it does not apply to a module instance, whose
    arguments are fixed. ``applies``: a further test on the instance's fixed arguments.
    """

    name: str
    summary: str
    strategy: Draw
    body: Callable[..., None]
    axis: str | None = None
    varies_args: bool = False
    applies: Callable[[dict[str, Any]], bool] | None = None


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
        out = []
        for p in self.properties:
            if p.axis is not None and not getattr(supports, p.axis):
                continue
            if fixed is not None and (p.varies_args or (p.applies is not None and not p.applies(fixed))):
                continue
            out.append(p)
        return out


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
            raise ValueError(
                f"{catalogue.check} has no property {name!r}; its properties are "
                f"{', '.join(catalogue.names())}"
            )
    chosen = catalogue.applicable(supports, fixed)
    if only_set is not None:
        inapplicable = only_set - {p.name for p in chosen}
        if inapplicable:
            raise ValueError(
                f"{catalogue.check}: property {', '.join(sorted(inapplicable))} does not "
                "apply to this implementation with these supports (see property_names)"
            )
        chosen = [p for p in chosen if p.name in only_set]
    return [p for p in chosen if p.name not in skip_set]
