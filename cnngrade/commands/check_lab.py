"""``cnngrade check-lab DIR``: is the lab in DIR ready to grade a class?

1. its ``lab.toml`` parses, every key is one the graders read, every value is of its type and the
   settings agree (:mod:`cnngrade.lab.validation`), each problem named with its line; a lab.toml with
   problems is not graded (every grading run would refuse it);
2. its ``student_templates/`` are what ``cnngrade release --lab DIR`` writes;
3. its reference gets full marks from every check that applies to the lab;
4. its templates fail every check, each saying "not implemented" (a check a blank template passes
   cannot tell a solution from none).

The gradings run in-process (the lab's own code is trusted). Exit status 0 when all hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnngrade.commands import default_dir
from cnngrade.commands.arguments import user_path
from cnngrade.grader.invocation import Runner, run_fresh
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.lab.mutant_run import reference_of
from cnngrade.lab.release import ReleaseError, release_files, stale_files


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnngrade check-lab", description="Check a lab: its lab.toml, its templates, "
                                "its reference's full marks, its templates' failures.")
    p.add_argument("directory", type=user_path, metavar="DIR", help="the lab's directory (lab.toml, reference/)")
    p.add_argument("--graders", type=user_path, default=default_dir("graders"),
                   help="(default: the project's graders/)")
    p.add_argument("--data-root", type=user_path, metavar="DIR",
                   help="where the lab's dataset is (default: [accuracy] data_root of lab.toml, then the user cache)")
    p.add_argument("--mutants", action="store_true",
                   help="instead of the templates and the reference's marks, test the lab's checks: grade mistakes "
                        "made from the reference (cnngrade.lab.mutants) and name each that keeps full marks")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="with --mutants: N gradings side by side")
    p.add_argument("--only", type=lambda names: [n for n in names.split(",") if n], default=[], metavar="NAMES",
                   help="with --mutants: only these mutants (comma-separated names, as the table lists them)")
    return p


def main(argv: list[str], runner: Runner | None = None) -> int:
    """``cnngrade check-lab ARGV``; each grading a fresh pytest process unless ``runner`` runs it otherwise."""
    args = build_parser().parse_args(argv)
    lab_dir: Path = args.directory
    problems = configuration_problems(lab_dir)
    if problems is None:
        return 2
    if not problems and args.mutants:
        from cnngrade.lab.mutant_run import mutant_problems

        problems += mutant_problems(lab_dir, args.graders, data_root=args.data_root, jobs=args.jobs, only=args.only,
                                    runner=runner or run_fresh)
    elif not problems:  # every grading run refuses a lab.toml with problems: nothing to grade yet
        problems += template_problems(lab_dir, LabConfig.load(lab_dir / "lab.toml"))
        problems += grading_problems(lab_dir, args.graders, runner=runner, data_root=args.data_root)
    for problem in problems:
        print(f"  - {problem}")
    if problems:
        print(f"cnngrade check-lab: {lab_dir} is not ready: {len(problems)} problem{'s' if len(problems) > 1 else ''}.")
        return 1
    print(f"cnngrade check-lab: {lab_dir} is ready: " + ("its checks tell every mistake made from the reference "
          "from it." if args.mutants else "the reference gets full marks, the templates none."))
    return 0


def configuration_problems(lab_dir: Path) -> list[str] | None:
    """The problems of lab.toml (:meth:`LabConfig.problems`: unknown keys, wrong values, settings that
    disagree), each with its line; None (after saying why) where it cannot be read at all."""
    try:
        lab = LabConfig.load(lab_dir / "lab.toml")
    except ConfigError as exc:
        print(f"cnngrade check-lab: {exc}", file=sys.stderr)
        return None
    problems = lab.problems()
    if not problems:
        print(f"lab.toml: {len(lab.parts.files)} part(s), network class {lab.parts.net_class}")
    return [f"lab.toml, {problem}" for problem in problems]


def template_problems(lab_dir: Path, lab: LabConfig) -> list[str]:
    """Templates that differ from what ``cnngrade release --lab DIR`` writes from the reference."""
    reference = reference_of(lab_dir)
    try:
        files = release_files(reference, lab.data.get("release", {}).get("notebooks", {}))
    except ReleaseError as exc:
        return [f"reference/: {exc}"]
    stale = stale_files(files, reference.parent / "student_templates")
    return [f"student_templates/{name} differs from what `cnngrade release --lab {lab_dir}` writes"
            for name in stale]


def grading_problems(lab_dir: Path, graders: Path, runner: Runner | None = None,
                     data_root: Path | None = None) -> list[str]:
    """The checks the reference does not pass, and those the templates do not fail as "not implemented"
    (each grading a fresh pytest process, unless ``runner`` runs it otherwise). Prints the reference's
    score and what its checks measured (its accuracy, to set the lab's thresholds from)."""
    from cnngrade.grader.invocation import run_graders

    runner = runner or run_fresh
    problems = []
    reference_dir = reference_of(lab_dir)
    options = ("--lab", str(lab_dir), "--reference", str(reference_dir),
               *(("--data-root", str(data_root)) if data_root else ()))
    reference = run_graders(reference_dir, graders, *options, runner=runner)
    print(f"reference: {reference.score:g}/{reference.max_score:g}")
    figures = [c["output"] for c in reference.checks.values() if c["status"] == "passed" and c["output"]]
    if figures:
        print("reference measured:", *figures, sep="\n  ")
    by_message: dict[str, list[str]] = {}
    for check, message in reference.failed().items():
        by_message.setdefault(" ".join(message.split())[:300], []).append(check)
    for message, checks in by_message.items():
        which = checks[0] if len(checks) == 1 else f"{len(checks)} checks ({', '.join(checks)})"
        problems.append(f"the reference fails {which}: {message}")
    templates = reference_dir.parent / "student_templates"
    if templates.is_dir() and not by_message:  # templates are judged against a reference that passes
        template = run_graders(templates, graders, *options, runner=runner)
        print(f"student_templates: {template.score:g}/{template.max_score:g}")
        for check in sorted(template.passed()):
            problems.append(f"the blank templates pass {check}: it cannot tell a solution from none")
        for check, message in template.failed().items():
            if "not implemented" not in message:
                problems.append(f'the templates fail {check} without saying "not implemented": '
                                f"{' '.join(message.split())[:200]}")
    return problems
