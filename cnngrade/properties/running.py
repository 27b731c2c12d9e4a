"""Running a check: one Hypothesis test per selected property, in catalogue order, into a table.

:func:`run_table` is the runner of every check, tensor suite or arithmetic: it selects the
properties (:func:`~cnngrade.properties.catalogue.select`), runs each as
``given(strategy(ctx))(body(ctx, ...))`` under the settings of
:mod:`cnngrade.properties.profiles`, on one torch thread, and records every outcome as a row of a
:class:`~cnngrade.properties.table.Conformance`: a property that fails (with its shrunk
counterexample) does not stop the others. Each property's Hypothesis key is
``cnngrade.properties:{check}:{property}:{implementation's name}``, so that each has its own
derandomized seed and database entries.

:func:`expose` gives a public ``check_*`` its ``conform(fn, ...)`` (the table) and what
:func:`property_names` reads to list, without running anything, the properties a run would check.
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
from cnngrade.properties.context import CheckContext, Context, Tally
from cnngrade.properties.failure import PropertyFailed
from cnngrade.properties.profiles import active_settings, cache_storage
from cnngrade.properties.supports import SupportsArg, as_supports
from cnngrade.properties.table import FAIL, OUT_OF_SCOPE, PASS, Conformance, Row


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
    with single_threaded(), cache_storage(), warnings.catch_warnings():
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


def run_table(
    ctx: Context,
    catalogue: Catalogue,
    only: Names,
    skip: str | Iterable[str],
    max_examples: int | None,
    profile: str | None,
) -> Conformance:
    """Run the selected properties of ``catalogue`` (see :func:`.select`) on ``ctx``'s
    implementation, one Hypothesis run each, in order, and return the table of their outcomes.
    Without ``only``, the properties the declaration leaves out are rows too, out of scope."""
    chosen = {p.name for p in select(catalogue, ctx.supports, ctx.fixed, only, skip)}
    skipped = {skip} if isinstance(skip, str) else set(skip)
    rows = []
    for prop in catalogue.properties:
        if prop.name not in chosen:
            reason = prop.scope(ctx.supports, ctx.fixed)
            if reason and only is None and prop.name not in skipped:
                rows.append(Row(prop.name, prop.summary, OUT_OF_SCOPE, reason=reason))
            continue
        ctx.prop = prop.name
        ctx.tally = Tally()
        key = f"cnngrade.properties:{catalogue.check}:{prop.name}:{ctx.name}"
        try:
            run_property(
                key,
                prop.strategy(ctx),
                lambda *args, p=prop: p.body(ctx, *args),
                max_examples=max_examples,
                profile=profile,
            )
        except PropertyFailed as failure:
            rows.append(Row(prop.name, prop.summary, FAIL, failure=failure))
            continue
        tally = ctx.tally
        if tally.unjudged and not tally.judged:
            rows.append(Row(prop.name, prop.summary, OUT_OF_SCOPE, reason=", ".join(tally.unjudged)))
        else:
            rows.append(Row(prop.name, prop.summary, PASS, note=tally.note()))
    return Conformance(catalogue.check.removeprefix("check_"), ctx.name, ctx.supports.declared(), tuple(rows))


def expose(
    check: Callable[..., tuple[str, ...]],
    catalogue: Catalogue,
    build: Callable[..., Context],
    *,
    fixed_of: Callable[..., dict[str, Any] | None] | None = None,
) -> None:
    """Give the public ``check`` what :func:`conform` and :func:`property_names` use:
    ``check.conform(fn, supports=None, backward=None, only=None, skip=(), max_examples=None,
    profile=None)``, the table of a run (``build(fn, supports, backward)`` makes its context),
    its ``catalogue``, and ``fixed_of(fn, supports)``, a layer instance's fixed arguments."""

    def conform(
        fn: Any,
        *,
        supports: SupportsArg = None,
        backward: Callable[..., Any] | None = None,
        only: Names = None,
        skip: str | Iterable[str] = (),
        max_examples: int | None = None,
        profile: str | None = None,
    ) -> Conformance:
        ctx = build(fn, supports, backward)
        return run_table(ctx, catalogue, only, skip or (), max_examples, profile)

    check.conform = conform  # type: ignore[attr-defined]
    check.catalogue = catalogue  # type: ignore[attr-defined]
    check.fixed_of = fixed_of or (lambda fn, supports=None: None)  # type: ignore[attr-defined]


def tensor_context(context: type[CheckContext[Any]], kind: str) -> Callable[..., Context]:
    """``build(fn, supports, backward)`` for :func:`expose`: the ``context`` of a ``kind``."""
    return lambda fn, supports=None, backward=None: context.of(kind, fn, supports, backward)


def instance_arguments(context: type[CheckContext[Any]], kind: str) -> Callable[..., dict[str, Any] | None]:
    """``fixed_of(fn, supports)`` for :func:`expose`: the arguments an ``nn.Module`` instance fixes."""
    return lambda fn, supports=None: context.of(kind, fn, supports).fixed if isinstance(fn, torch.nn.Module) else None


def property_names(check: Callable[..., Any], supports: SupportsArg = None, fn: Any = None) -> tuple[str, ...]:
    """The names of the properties ``check`` runs with this ``supports`` declaration, in order
    (for ``@pytest.mark.parametrize``). Pass ``fn`` when it is an ``nn.Module`` instance: the
    properties that need other arguments than the layer's own are then left out."""
    catalogue: Catalogue = check.catalogue  # type: ignore[attr-defined]
    fixed = check.fixed_of(fn, supports) if fn is not None else None  # type: ignore[attr-defined]
    return tuple(p.name for p in catalogue.applicable(as_supports(supports), fixed))
