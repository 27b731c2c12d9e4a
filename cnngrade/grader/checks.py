"""Checks that several grader files share: a property of a cnngrade.properties suite run through the
submission handle, and "written from scratch" (no forbidden torch operator underneath)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnngrade.grader.feedback import expect, fail
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


def expect_from_scratch(submission: Submission, name: str, args: tuple, forbidden: tuple[str, ...],
                        hint: str) -> None:
    """Fail unless calling ``name(*args)`` runs none of torch's ``forbidden`` ATen operators."""
    used = [op for op in submission.ops_used(name, *args) if any(f in op for f in forbidden)]
    expect(not used, f"{name} uses torch's own {', '.join(used)}; the lab asks you to write it from "
                     f"scratch ({hint}).")
