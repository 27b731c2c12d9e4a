"""``feedback.md``: what a student reads about their grading, from the results.json the grader wrote.

The score; each check that did not pass, with its points and its message; what the passed checks
measured; then the checks that passed. A submission that could not be graded gets the reason and
what to do.
"""

from __future__ import annotations

__all__ = ["error_markdown", "feedback_markdown", "rejected_markdown"]


def _points(value: float) -> str:
    return f"{value:g}"


def _quoted(message: str) -> list[str]:
    """``message`` as a Markdown block quote (its line breaks kept)."""
    return [f"> {line}" if line else ">" for line in message.strip().splitlines()]


def feedback_markdown(student: str, results: dict) -> str:
    """The feedback of a graded submission: ``results`` in Gradescope's schema."""
    tests = results.get("tests", [])
    lines = [f"# {student}: {_points(results['score'])}/{_points(results['max_score'])}", ""]
    failed = [t for t in tests if t.get("status") != "passed"]
    passed = [t for t in tests if t.get("status") == "passed"]
    if failed:
        lines += ["## To fix", ""]
        for test in failed:
            lines += [f"### {test['name']} ({_points(test['score'])}/{_points(test['max_score'])})", ""]
            lines += [*_quoted(test.get("output") or "(no message)"), ""]
    if passed:
        lines += ["## Passed", ""]
        for test in passed:
            lines.append(f"- {test['name']} ({_points(test['score'])}/{_points(test['max_score'])})")
            if test.get("output"):
                lines.append(f"  - {' '.join(test['output'].split())}")
        lines.append("")
    return "\n".join(lines)


def error_markdown(student: str, reason: str) -> str:
    """The feedback of a submission whose grading failed through an error of cnngrade's (not the student's)."""
    return "\n".join([f"# {student}: not graded yet", "",
                      "Grading your submission failed because of a problem on the grading side, not in your work. "
                      "The course staff were told and will grade it again; you do not need to do anything.", "",
                      "What the grader reported:", "", *_quoted(reason), ""])


def rejected_markdown(student: str, reason: str) -> str:
    """The feedback of a submission that was not graded by its own doing (rejected, or timed out)."""
    return "\n".join([f"# {student}: not graded", "", *_quoted(reason), "",
                      "Fix this and submit again; ask your instructor if it is unclear.", ""])
