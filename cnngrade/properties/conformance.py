"""Conformance of an implementation to torch, as a table: from Python, from pytest, by operation name.

From Python, :func:`conform` returns the :class:`~cnngrade.properties.table.Conformance` table
(every property run; ``print`` it, or read its rows)::

    from cnngrade.properties import Supports, conform
    table = conform("max_pool2d", my_pool, supports=Supports(array="numpy", layouts="NHWC"))
    print(table)
    assert table.passed

From pytest, :func:`conformance_tests` makes one test per property, an out-of-scope one skipped
with its reason::

    test_my_pool = conformance_tests("max_pool2d", my_pool, supports=Supports(padding=False))

The operations, by the name ``cnngrade conform --op`` takes (:data:`OPERATIONS`): ``max_pool2d``,
``avg_pool2d``, ``unfold``, ``fold``, ``conv2d``, ``conv_output_size``, ``conv2d_param_count``,
``linear_param_count``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnngrade.properties.arithmetic import check_conv2d_param_count, check_conv_output_size, check_linear_param_count
from cnngrade.properties.catalogue import Names
from cnngrade.properties.convolution import check_conv2d, check_fold, check_unfold
from cnngrade.properties.failure import UsageError
from cnngrade.properties.pooling import check_avg_pool2d, check_max_pool2d
from cnngrade.properties.running import property_names
from cnngrade.properties.supports import SupportsArg
from cnngrade.properties.table import OUT_OF_SCOPE, Conformance

#: the checks by the name of the operation they check
OPERATIONS: dict[str, Callable[..., tuple[str, ...]]] = {
    "max_pool2d": check_max_pool2d,
    "avg_pool2d": check_avg_pool2d,
    "unfold": check_unfold,
    "fold": check_fold,
    "conv2d": check_conv2d,
    "conv_output_size": check_conv_output_size,
    "conv2d_param_count": check_conv2d_param_count,
    "linear_param_count": check_linear_param_count,
}


def check_of(operation: str | Callable[..., Any]) -> Callable[..., tuple[str, ...]]:
    """The check of ``operation``: a name of :data:`OPERATIONS`, or a ``check_*`` itself."""
    if callable(operation) and hasattr(operation, "conform"):
        return operation
    if operation not in OPERATIONS:
        raise UsageError(f"no operation {operation!r}; the operations are {', '.join(OPERATIONS)}")
    return OPERATIONS[operation]  # type: ignore[index]


def conform(
    operation: str | Callable[..., Any],
    fn: Any,
    *,
    supports: SupportsArg = None,
    backward: Callable[..., Any] | None = None,
    only: Names = None,
    skip: Names = (),
    max_examples: int | None = None,
    profile: str | None = None,
) -> Conformance:
    """The table of every property of ``operation`` (a name of :data:`OPERATIONS` or a
    ``check_*``) for the implementation ``fn`` under the declaration ``supports`` (with its own
    ``backward``, where it has one); options as the ``check_*`` functions'. Raises nothing for a
    failing property: the table holds it."""
    return check_of(operation).conform(  # type: ignore[attr-defined]
        fn, supports=supports, backward=backward, only=only, skip=skip or (), max_examples=max_examples, profile=profile
    )


def conformance_tests(
    operation: str | Callable[..., Any],
    fn: Any,
    *,
    supports: SupportsArg = None,
    backward: Callable[..., Any] | None = None,
    max_examples: int | None = None,
    profile: str | None = None,
) -> Callable[[str], None]:
    """A pytest test function, parametrized with one test per property of ``operation`` in scope
    for ``fn`` under ``supports``: assign it to a ``test_*`` name of a test module. A property
    whose examples could none be judged is skipped with the reason."""
    import pytest

    names = property_names(check_of(operation), supports, fn)

    @pytest.mark.parametrize("prop", names)
    def test_property(prop: str) -> None:
        table = conform(
            operation, fn, supports=supports, backward=backward, only=prop, max_examples=max_examples, profile=profile
        )
        row = table.row(prop)
        if row.failure is not None:
            raise row.failure
        if row.status == OUT_OF_SCOPE:
            pytest.skip(row.reason)

    return test_property
