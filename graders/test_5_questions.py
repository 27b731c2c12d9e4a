"""The lab's questions: each constant of the submission's answers.py against the reference's."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnngrade.grader.feedback import expect
from cnngrade.grader.questions import read_questions, same_answer, show


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "question" in metafunc.fixturenames:
        option = metafunc.config.getoption("--reference")
        reference = Path(option) if option else Path(metafunc.config.rootpath) / "reference"
        questions = read_questions(reference / "answers.py")
        metafunc.parametrize("question", questions, ids=[q.name for q in questions])


@pytest.mark.points(1)
def test_answer(question, submission, reference_submission, lab):
    """Answer"""
    expected = reference_submission.constant(question.name)
    given = submission.constant(question.name)
    expect(given is not None, f"{question.name} is not answered yet (not implemented yet): {question.prompt}")
    hidden = question.name in lab.data.get("questions", {}).get("hidden", [])
    expect(same_answer(expected, given),
           f"{question.name} is wrong: you answered {show(given)}"
           + ("." if hidden else f"; the expected answer is {show(expected)}.") + f" Question: {question.prompt}")
