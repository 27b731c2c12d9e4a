"""Fixtures shared by the graders. The grading plugin (cnngrade.grader.plugin) is activated by
cnngrade's pytest entry point when the run names graders/; collecting this directory by other
paths activates it too (pytest_configure below)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from cnngrade.grader.feedback import expect, fail
from cnngrade.grader.inputs import image_batch
from cnngrade.plugin import activate
from cnngrade.properties import PropertyFailed
from cnngrade.submission.errors import StudentCodeError


def pytest_configure(config: pytest.Config) -> None:
    activate(config)


@pytest.fixture
def images(lab) -> Callable[[int], torch.Tensor]:
    """``images(n)``: a reproducible batch of n input images of the lab's input shape."""
    shape = tuple(lab.setting("net.input_shape"))
    return lambda n, seed=0: image_batch(n, shape, seed)


@pytest.fixture
def property_check(submission):
    """``property_check(check, name, prop)``: run one property of a cnngrade.properties suite on the
    submission's function ``name``, failing the check with the smallest counterexample."""

    def run(check, name: str, prop: str) -> None:
        def through_handle(*args, **kwargs):
            try:
                return submission.call(name, *args, **kwargs)
            except StudentCodeError as exc:  # the suite expects the student's exception as raised
                raise exc.as_builtin() from None

        through_handle.__name__ = name
        try:
            check(through_handle, only=prop, profile="ci")
        except PropertyFailed as exc:
            fail(str(exc))

    return run


def expect_from_scratch(submission, name: str, args: tuple, forbidden: tuple[str, ...], hint: str) -> None:
    """Fail unless calling ``name(*args)`` runs none of torch's ``forbidden`` ATen operators."""
    used = [op for op in submission.ops_used(name, *args) if any(f in op for f in forbidden)]
    expect(not used, f"{name} uses torch's own {', '.join(used)}; the lab asks you to write it from "
                     f"scratch ({hint}).")
