"""Grade a lab's mutants (:mod:`cnngrade.lab.mutants`) and name each its checks cannot tell from the
reference: ``cnngrade check-lab DIR --mutants``.

A mutant is killed when a check worth points that the reference passes fails on it, both graded in the
same runs as submissions: folders holding the reference's files (not its ``model.pt``: a student's weights
come from their own Net), the network file mutated. Only the checks of Net run (``-m "not needs and not
answers"``: the checks of the lab's other parts, its pooling or its questions, see the same files in every
mutant), and not those ``[points]`` sets to 0 (they cannot lower a mark). They run in two stages, so that
a mistake the cheap checks see costs no training:

1. every mutant and the reference, on the grader files that do not train or time Net;
2. the mutants no check of stage 1 killed, and the reference, on those that do (:data:`COSTLY`).

A mutant neither stage kills keeps full marks: the lab cannot tell that mistake from the reference.
``jobs`` gradings run side by side in each stage, each on a share of the mutants.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnngrade.grader.invocation import Grade, Runner, run_fresh, run_graders_on_each
from cnngrade.grader.scoring import INTERNAL_ERROR
from cnngrade.lab.config import LabConfig
from cnngrade.lab.mutants import Lab, Mutant, NotApplicable, builder, copy_submission, make_mutants

#: the grader files whose checks train or time Net (seconds per submission): stage 2
COSTLY = ("test_7_accuracy.py", "test_8_speed.py")
#: the checks of Net: those of the lab's other parts are marked ``needs`` (its functions) or ``answers``
NET_CHECKS = "not needs and not answers"
#: the reference's folder among the mutants' (not a mutant's name)
BASELINE = "reference"


@dataclass(frozen=True)
class Verdict:
    """A mutant and the checks that told it from the reference (none: it survived); ``errors``: the checks
    that crashed on it (a bug in cnngrade, not a kill)."""

    mutant: Mutant
    killed_by: tuple[str, ...]
    errors: tuple[str, ...]


def reference_of(lab_dir: Path) -> Path:
    """The lab's reference: ``DIR/reference``, or for the default lab (``graders/lab.toml``), the
    project's ``reference/`` beside ``graders/``."""
    inside = lab_dir / "reference"
    return inside if inside.is_dir() or not (lab_dir.parent / "reference").is_dir() else lab_dir.parent / "reference"


def mutant_problems(lab_dir: Path, graders: Path, *, data_root: Path | None = None, jobs: int = 1,
                    only: Sequence[str] = (), runner: Runner = run_fresh,
                    say: Callable[[str], None] = print) -> list[str]:
    """Make the mutants of the lab in ``lab_dir`` (those named in ``only``, if any), grade them and print a
    table of the verdicts; return the problems: each mutant that keeps full marks, each check that
    crashed, a reference that fails."""
    lab = LabConfig.load(lab_dir / "lab.toml")
    parts, reference = lab.parts, reference_of(lab_dir)
    net_file = f"{parts.net_part}.py"
    if not (reference / net_file).is_file():
        return [f"mutants are made from {reference / net_file}, which does not exist"]
    start = time.perf_counter()
    try:
        made = make_mutants((reference / net_file).read_text(encoding="utf-8"), Lab.from_config(lab),
                            builder(reference, net_file, parts.net_class))
    except ValueError as exc:
        return [f"no mutants of {reference / net_file}: {exc}"]
    unknown = sorted(set(only) - {m.name for m in made})
    if unknown:
        return [f"no mutant is named {', '.join(unknown)}; the mutants: {', '.join(m.name for m in made)}"]
    made = [m for m in made if not only or m.name in only]
    mutants = [m for m in made if isinstance(m, Mutant)]
    say(f"Mutants of {parts.net_class} ({reference / net_file}): {len(mutants)} made, "
        f"{len(made) - len(mutants)} not applicable.")
    options = ["--lab-config", str(lab_dir / "lab.toml"), "--reference", str(reference), "-m", NET_CHECKS,
               *(["--data-root", str(data_root)] if data_root else [])]
    worthless = sorted(name for name, points in lab.data.get("points", {}).items() if points == 0)
    if worthless:  # a check worth 0 points cannot lower a mark: not run
        options += ["-k", " and ".join(f"not {name}" for name in worthless)]
    with tempfile.TemporaryDirectory(prefix="cnngrade-mutants-") as scratch:
        folders = {BASELINE: Path(scratch, BASELINE)}
        copy_submission(reference, folders[BASELINE], {})
        for mutant in mutants:
            folders[mutant.name] = Path(scratch, mutant.name)
            copy_submission(reference, folders[mutant.name], {net_file: mutant.source})
        try:
            verdicts, timings = _judge(mutants, folders, graders, options, jobs, runner)
        except _ReferenceFails as exc:
            return exc.problems
    say(_table(made, verdicts))
    say(f"Time: {'; '.join(timings) or 'no gradings'}; {time.perf_counter() - start:.1f} s in all.")
    problems = []
    for verdict in verdicts.values():
        name, title = verdict.mutant.name, verdict.mutant.title
        problems += [f"{check} crashed on mutant {name} ({title}): a bug in cnngrade" for check in verdict.errors]
        if not verdict.killed_by:
            problems.append(f"your lab cannot tell {name} ({title}) from the reference: {verdict.mutant.change}")
    return problems


class _ReferenceFails(Exception):
    """The reference fails a check of the mutants' grading: no verdict can be given."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = problems


def _judge(mutants: Sequence[Mutant], folders: dict[str, Path], graders: Path, options: Sequence[str], jobs: int,
           runner: Runner) -> tuple[dict[str, Verdict], list[str]]:
    """Each mutant's verdict, graded in stages (the module's docstring), and each stage's time in words."""
    cheap = [p.name for p in sorted(graders.glob("test_*.py")) if p.name not in COSTLY]
    costly = [name for name in COSTLY if (graders / name).is_file()]
    verdicts: dict[str, Verdict] = {}
    timings = []
    remaining = list(mutants)
    for stage, files in ((1, cheap), (2, costly)):
        if not remaining or not files:
            continue
        began = time.perf_counter()
        grades = _grade([folders[BASELINE], *(folders[m.name] for m in remaining)], graders, files, options, jobs,
                        runner)
        if grades is None:
            timings.append(f"stage {stage}: no check of {', '.join(files)} applies")
            continue
        baseline = grades[BASELINE]
        timings.append(f"stage {stage}: {_count(len(baseline.checks), 'check')} x {_count(len(remaining), 'mutant')} "
                       f"and the reference, {time.perf_counter() - began:.1f} s")
        if baseline.failed():
            raise _ReferenceFails([f"the reference fails {check} in the mutants' grading: {' '.join(why.split())[:300]}"
                                   for check, why in baseline.failed().items()])
        for mutant in remaining:
            verdicts[mutant.name] = _verdict(mutant, grades[mutant.name], baseline)
        remaining = [m for m in remaining if not verdicts[m.name].killed_by]
    return verdicts, timings


def _grade(folders: Sequence[Path], graders: Path, files: Sequence[str], options: Sequence[str], jobs: int,
           runner: Runner) -> dict[str, Grade] | None:
    """Grade ``folders`` on ``files`` in ``jobs`` runs side by side (each a share of them), by folder name;
    None where no check of ``files`` applies to the lab (all left out or deselected)."""
    count = max(1, min(jobs, len(folders)))
    shares = [list(folders[i::count]) for i in range(count)]

    def grade(share: list[Path]) -> dict[str, Grade] | None:
        exits = []

        def run(command: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess:
            exits.append(runner(command, **kwargs))
            return exits[-1]

        try:
            return run_graders_on_each(share, graders, *options, files=files, runner=run)
        except RuntimeError:
            if exits and exits[-1].returncode == pytest.ExitCode.NO_TESTS_COLLECTED:
                return None
            raise

    with ThreadPoolExecutor(len(shares)) as pool:
        results = list(pool.map(grade, shares))
    if any(result is None for result in results):
        return None
    return {name: g for result in results if result is not None for name, g in result.items()}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _verdict(mutant: Mutant, grade: Grade, baseline: Grade) -> Verdict:
    """The checks worth points that the reference passes and ``grade`` fails (a check worth 0 points
    kills nothing: the mutant keeps full marks); those that crashed apart."""
    passed = baseline.passed()
    failed = {name: message for name, message in grade.failed().items()
              if name in passed and grade.checks[name]["max_score"] > 0}
    errors = tuple(name for name, message in failed.items() if message.startswith(INTERNAL_ERROR))
    return Verdict(mutant, tuple(name for name in failed if name not in errors), errors)


def _table(made: Sequence[Mutant | NotApplicable], verdicts: dict[str, Verdict]) -> str:
    """One line per mutant: its name, what it changes, killed (by which checks) or SURVIVED; then the
    mutants that do not apply, and why."""
    width = max(len(m.name) for m in made)
    lines = []
    for mutant in made:
        if isinstance(mutant, Mutant):
            verdict = verdicts[mutant.name]
            outcome = f"killed by {', '.join(verdict.killed_by)}" if verdict.killed_by else "SURVIVED"
            lines.append(f"  {mutant.name:<{width}}  {mutant.title}: {outcome}")
    applicable = len(lines)
    killed = sum(1 for v in verdicts.values() if v.killed_by)
    lines.append(f"  {killed} of {applicable} mutants killed.")
    lines += [f"  {m.name:<{width}}  not applicable: {m.reason}" for m in made if isinstance(m, NotApplicable)]
    return "\n".join(lines)
