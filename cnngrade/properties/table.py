"""The result of a run: :class:`Conformance`, a table of every property, not only the first failure.

Each :class:`Row` is one property of the check's catalogue, in order, with its status::

    pass          every example held
    FAIL          a property failed; its shrunk counterexample is the row's ``failure``
    out of scope  the declaration leaves the property out (an axis not declared, nothing to draw),
                  or no example could be judged (no gradient to compare, ...): ``reason`` says which

``str(conformance)`` is the table a user reads (what ``cnngrade conform`` prints); properties that
fail the same way (the implementation raising on the same smallest input) share one number::

    my_pool as max_pool2d, Supports(array='numpy', layouts=('NHWC',))
      shape              pass
      matches_torch      FAIL [1]
      ...
      errors             out of scope: errors='none' declared
    1 of 9 properties fails, 7 hold, 1 out of scope.

    [1] my_pool(x, kernel_size=2) on a (1, 2, 2, 1) float32 array: ... (property: matches_torch)

:meth:`Conformance.raise_for_failures` is what a ``check_*`` does with it: raise the failure, or
one listing every failure, for pytest.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnngrade.properties.failure import PropertyFailed

PASS = "pass"
FAIL = "FAIL"
OUT_OF_SCOPE = "out of scope"


@dataclass(frozen=True)
class Row:
    """One property's outcome: ``status`` (:data:`PASS`, :data:`FAIL`, :data:`OUT_OF_SCOPE`), its
    ``failure`` when it failed, ``reason`` when it is out of scope, and ``note``, examples that a
    holding property could not judge."""

    property: str
    summary: str
    status: str
    failure: PropertyFailed | None = None
    reason: str = ""
    note: str = ""


@dataclass(frozen=True)
class Conformance:
    """Every property of one check of one implementation: ``check`` (``max_pool2d``), the
    implementation's ``name``, its ``declaration`` (``Supports(...)``) and the ``rows``."""

    check: str
    name: str
    declaration: str
    rows: tuple[Row, ...]

    @property
    def failures(self) -> tuple[PropertyFailed, ...]:
        """The failures, in the order of the rows."""
        return tuple(row.failure for row in self.rows if row.failure is not None)

    @property
    def passed(self) -> bool:
        """Whether every property in scope holds."""
        return not self.failures

    @property
    def held(self) -> tuple[str, ...]:
        """The names of the properties that hold."""
        return tuple(row.property for row in self.rows if row.status == PASS)

    def row(self, name: str) -> Row:
        """The row of the property ``name``."""
        for row in self.rows:
            if row.property == name:
                return row
        raise KeyError(f"no row for the property {name!r}; rows: {', '.join(r.property for r in self.rows)}")

    def summary(self) -> str:
        """``1 of 9 properties fails, 7 hold, 1 out of scope.``"""
        total = len(self.rows)
        failed = len(self.failures)
        held = len(self.held)
        out = total - failed - held
        verb = "fails" if failed == 1 else "fail"
        head = f"{failed} of {total} properties {verb}" if failed else f"all {total - out} properties in scope hold"
        parts = [head] + ([f"{held} hold"] if failed else []) + ([f"{out} out of scope"] if out else [])
        return ", ".join(parts) + "."

    def __str__(self) -> str:
        width = max((len(row.property) for row in self.rows), default=8) + 2
        lines = [f"{self.name} as {self.check}, {self.declaration}"]
        numbered: list[PropertyFailed] = []
        numbers: dict[str, int] = {}  # a failure's message without its property -> its number
        for row in self.rows:
            if row.status == FAIL:
                failure: PropertyFailed = row.failure  # type: ignore[assignment]
                same = _unnamed(failure)
                if same not in numbers:
                    numbered.append(failure)
                    numbers[same] = len(numbered)
                status = f"FAIL [{numbers[same]}]"
            elif row.status == OUT_OF_SCOPE:
                status = f"out of scope: {row.reason}"
            else:
                status = PASS + (f" ({row.note})" if row.note else "")
            lines.append(f"  {row.property:<{width}} {status}")
        lines.append(self.summary())
        for number, failure in enumerate(numbered, start=1):
            lines.append("")
            others = [row.property for row in self.rows if row.failure is not None and row.failure is not failure
                      and _unnamed(row.failure) == _unnamed(failure)]
            also = f" (also {', '.join(others)}: the same failure)" if others else ""
            lines.append(f"[{number}] {failure.message}{also}")
            lines.extend(f"    hint: {hint}" for hint in failure.hints)
        return "\n".join(lines)

    def raise_for_failures(self) -> tuple[str, ...]:
        """The names of the properties that hold, when none fails; else raise the failure, or, for
        several, a :class:`PropertyFailed` of the first property whose message is the table and
        whose ``failures`` are all of them."""
        failures = self.failures
        if not failures:
            return self.held
        if len(failures) == 1:
            raise failures[0]
        first = failures[0]
        raise PropertyFailed(
            str(self),
            property=first.property,
            expected=first.expected,
            seen=first.seen,
            counterexample=first.counterexample,
            function=first.function,
            hints=first.hints,
            failures=failures,
        )


def _unnamed(failure: PropertyFailed) -> str:
    """A failure's message without its closing ``(property: name)``: what properties failing the
    same way share."""
    return failure.message.removesuffix(f" (property: {failure.property})")
