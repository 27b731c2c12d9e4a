"""The dropout check costs no points a second time: where the grader cannot reproduce what Net computes
in eval mode (the architecture check fails), Net's dropout is not judged and is left out of the score,
saying why. (Labs without dropout leave the check out altogether: tests/test_outputs_binary.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from cnngrade.grader.invocation import Grade, Runner, run_graders_on_each
from tests.corpus import BUGGY, NET_GRADERS, background
from tests.paths import ROOT


@background("outputs_dropout", cost=3)
def grade_wrong_channels(scratch: Path, runner: Runner) -> Grade:
    """Lab 4's Net with 30 channels in conv2 (the lab's weights cannot be loaded), on its architecture
    and dropout checks, alone (the score report is its own)."""
    (grade,) = run_graders_on_each([BUGGY / "wrong_channels"], ROOT / "graders", "-k",
                                   "test_architecture or test_dropout_placement", cwd=scratch, files=NET_GRADERS,
                                   runner=runner).values()
    return grade


@pytest.mark.grades("outputs_dropout")
def test_dropout_is_not_judged_where_the_architecture_check_failed(corpus):
    grade = corpus.result("outputs_dropout")
    assert set(grade.checks) == {"test_architecture"} and (grade.score, grade.max_score) == (0, 15)
    report = " ".join(grade.stdout.split())
    assert ("SKIP In train mode Net's dropout is the lab's: the same kinds, at the same places, with the same p (not "
            "judged: Net's dropout is compared with the lab's on what Net computes in eval mode, which the grader "
            "cannot reproduce (see the architecture check); not in the score)") in report
