"""Running a check: one Hypothesis test per selected property, in catalogue order.

:func:`run_check` is the runner of every check, tensor suite or arithmetic: it selects the
properties (:func:`~cnngrade.properties.catalogue.select`), then runs each as
``given(strategy(ctx))(body(ctx, ...))`` under the settings of
:mod:`cnngrade.properties.profiles`, on one torch thread; the first property that fails raises
its shrunk :class:`~cnngrade.properties.failure.PropertyFailed`. Each property's Hypothesis key
is ``cnngrade.properties:{check}:{property}:{implementation's name}``, so that each has its own
derandomized seed and database entries.

:func:`expose` gives a public ``check_*`` what :func:`property_names` reads to list, without
running anything, the properties a run would check.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from hypothesis import given
from hypothesis import strategies as st

from cnngrade.properties.catalogue import Catalogue, Names, select
from cnngrade.properties.context import CheckContext, Context
from cnngrade.properties.profiles import active_settings
from cnngrade.properties.supports import SupportsArg, as_supports


def run_property(
    key: str,
    strategy: st.SearchStrategy,
    body: Callable[..., None],
    *,
    max_examples: int | None,
    profile: str | None,
) -> None:
    """Run ``body`` on examples of ``strategy`` under Hypothesis; the shrunk failure propagates."""

    def property_test(args: tuple) -> None:
        body(*args)

    # distinguishes the database entries (and the derandomized seeds) of different checks
    property_test._hypothesis_internal_add_digest = key.encode()  # type: ignore[attr-defined]
    test = active_settings(profile, max_examples)(given(args=strategy)(property_test))
    with single_threaded(), warnings.catch_warnings():
        # torch's own notice when F.conv2d pads 'same' with an even kernel; not the user's doing
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        test()


@contextmanager
def single_threaded() -> Iterator[None]:
    """torch on one intra-op thread meanwhile: the checks' tensors are tiny, and waking worker
    threads costs far more than the work (milliseconds per call on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    if threads != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)


def run_check(
    ctx: Context,
    catalogue: Catalogue,
    only: Names,
    skip: str | Iterable[str],
    max_examples: int | None,
    profile: str | None,
) -> tuple[str, ...]:
    """Run the selected properties of ``catalogue`` (see :func:`.select`) on ``ctx``'s implementation,
    one Hypothesis run each, in order; return their names. The first that fails raises
    :class:`.PropertyFailed`."""
    chosen = select(catalogue, ctx.supports, ctx.fixed, only, skip)
    for prop in chosen:
        ctx.prop = prop.name
        key = f"cnngrade.properties:{catalogue.check}:{prop.name}:{ctx.name}"
        run_property(
            key,
            prop.strategy(ctx),
            lambda *args, p=prop: p.body(ctx, *args),
            max_examples=max_examples,
            profile=profile,
        )
    return tuple(p.name for p in chosen)


def expose(
    check: Callable[..., tuple[str, ...]], catalogue: Catalogue, context: type[CheckContext[Any]], kind: str
) -> None:
    """Give the public ``check`` what :func:`property_names` reads: its ``catalogue``, and
    ``context(fn, supports=None)``, the context it builds for an implementation."""
    check.catalogue = catalogue  # type: ignore[attr-defined]
    check.context = lambda fn, supports=None: context.of(kind, fn, supports)  # type: ignore[attr-defined]


def expose_arithmetic(check: Callable[..., tuple[str, ...]], catalogue: Catalogue) -> None:
    """Give the public arithmetic ``check`` what :func:`property_names` reads: its properties'
    names, which apply whatever the declaration and the implementation."""
    check.property_list = catalogue.names()  # type: ignore[attr-defined]


def property_names(check: Callable[..., Any], supports: SupportsArg = None, fn: Any = None) -> tuple[str, ...]:
    """The names of the properties ``check`` runs with this ``supports`` declaration, in order
    (for ``@pytest.mark.parametrize``). Pass ``fn`` when it is an ``nn.Module`` instance: the
    properties that need other arguments than the layer's own are then left out."""
    fixed_names = getattr(check, "property_list", None)
    if fixed_names is not None:
        return tuple(fixed_names)
    catalogue = check.catalogue  # type: ignore[attr-defined]
    fixed = check.context(fn, supports).fixed if fn is not None else None  # type: ignore[attr-defined]
    return tuple(p.name for p in catalogue.applicable(as_supports(supports), fixed))
