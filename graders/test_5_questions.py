"""The lab's questions: each constant of the submission's answers.py against the reference's.

An answer counts in any form of the same value (a 2x2 list or the flat list of its rows, a tuple, a
tensor, 2.0 for 2). Feedback on a wrong answer states the expected answer's form, and its value
only for the questions ``[questions] reveal`` of lab.toml lists, so that answers cannot be copied
from the feedback.
"""

from __future__ import annotations

import pytest

from cnngrade.grader.feedback import expect
from cnngrade.grader.plugin import lab_config, reference_dir
from cnngrade.grader.questions import read_questions, revealed, same_answer, verdict
from cnngrade.submission.errors import NotImplementedYet


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "question" in metafunc.fixturenames:
        answers = lab_config(metafunc.config).parts.answers_part
        questions = read_questions(reference_dir(metafunc.config) / f"{answers}.py") if answers else []
        metafunc.parametrize("question", questions, ids=[q.name for q in questions])


@pytest.mark.points(1)
@pytest.mark.answers
def test_answer(question, submission, reference_submission, lab):
    """Answer"""
    expected = reference_submission.constant(question.name)
    given = submission.constant(question.name)
    if given is None:  # the template's blank: nothing to check yet (and nothing for a fix-first note)
        raise NotImplementedYet(f"{question.name} is not answered yet (not implemented yet): {question.prompt}")
    reveal = revealed(lab.data, question.name)
    expect(same_answer(expected, given),
           f"{verdict(question.name, expected, given, reveal)} Question: {question.prompt}")
