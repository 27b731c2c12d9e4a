"""Pooling written from scratch: the lab's exercises, Hypothesis properties, no torch pooling (the
operators ``[from_scratch.pooling]`` of lab.toml forbids, in the operator trace of a call that the
grader checks by running it on the same input and on shuffled values, against torch).

The property checks run through the submission handle, which passes copies of tensors and
returns results without autograd history, so the suite's ``gradient`` and ``no_mutation``
properties (meaningful for in-process layers) are not graded here. The functions are checked as the lab
declares them, ``LAB_SUPPORTS`` (see ``cnngrade.grader.checks``), which the ``property_check`` fixture passes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnngrade.grader.checks import LAB_SUPPORTS, FromScratch, exercise_mismatch, expect_from_scratch
from cnngrade.grader.feedback import expect
from cnngrade.properties import check_avg_pool2d, check_max_pool2d, property_names

#: a lab whose [parts] lists no pooling functions skips this file's checks
pytestmark = pytest.mark.needs("max_pool2d", "avg_pool2d")

#: the library's properties the lab does not grade: those above, and those it added after the lab's points were
#: set (the lab's dtype is checked inside each value property: LAB_SUPPORTS)
NOT_GRADED = ("gradient", "no_mutation", "gradient_ties", "precision")
EXERCISES = {
    "question 6's 4x4 matrix": torch.tensor([[4.0, 3, 5, 1], [2, 1, 3, 1], [1, 1, 2, 3], [0, 0, 1, 2]]),
    "the workshop's 6x6 matrix": torch.tensor(
        [[3.0, 4, 2, 5, 3, 4], [3, 3, 2, 3, 3, 3], [3, 4, 2, 3, 3, 2],
         [3, 3, 2, 2, 3, 3], [3, 4, 2, 2, 2, 3], [2, 3, 2, 2, 2, 4]]),
}


@pytest.mark.points(4)
def test_pooling_exercises(submission, reference_submission):
    """max_pool2d and avg_pool2d solve the lab's pooling exercises"""
    # the feedback does not show the right values: they are the answers of the lab's questions
    for function in ("max_pool2d", "avg_pool2d"):
        for label, matrix in EXERCISES.items():
            for k in (2, 3) if matrix.shape[0] == 6 else (2,):
                expected = reference_submission.call(function, matrix, k)
                seen = submission.call(function, matrix, k)
                mismatch = exercise_mismatch(seen, expected)
                expect(mismatch is None, f"{function}(x, kernel_size={k}) on {label} {mismatch}")


@pytest.mark.points(1)
@pytest.mark.lab_function("max_pool2d")
@pytest.mark.parametrize("prop", [p for p in property_names(check_max_pool2d, LAB_SUPPORTS) if p not in NOT_GRADED])
def test_max_pool2d(property_check, prop):
    """max_pool2d property"""
    property_check(check_max_pool2d, "max_pool2d", prop)


@pytest.mark.points(1)
@pytest.mark.lab_function("avg_pool2d")
@pytest.mark.parametrize("prop", [p for p in property_names(check_avg_pool2d, LAB_SUPPORTS) if p not in NOT_GRADED])
def test_avg_pool2d(property_check, prop):
    """avg_pool2d property"""
    property_check(check_avg_pool2d, "avg_pool2d", prop)


def planes(pool):
    """torch's ``pool`` (F.max_pool2d, F.avg_pool2d) on a (N, C, H, W), (C, H, W) or (H, W) tensor."""
    def pooled(x, *args):
        out = pool(x.reshape(-1, 1, *x.shape[-2:]), *args)
        return out.reshape(*x.shape[:-2], *out.shape[-2:])

    return pooled


@pytest.mark.points(4)
def test_pooling_from_scratch(submission, lab):
    """max_pool2d and avg_pool2d are written from scratch (no torch pooling functions, no F.unfold)"""
    x = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    calls = [(x, 2), (x[0, 0], 3, 1, 1)]
    expect_from_scratch(submission, {"max_pool2d": calls, "avg_pool2d": calls}, FromScratch.from_lab(lab, "pooling"),
                        {"max_pool2d": planes(F.max_pool2d), "avg_pool2d": planes(F.avg_pool2d)})
