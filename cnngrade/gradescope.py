"""Gradescope: ``cnngrade gradescope`` builds ``autograder.zip``; ``run_autograder`` grades one submission.

The zip (Gradescope's autograder format) holds ``setup.sh`` (run once, as root, when Gradescope builds
its image: Debian/Ubuntu packages python3-venv and bubblewrap, then cnngrade into /autograder/venv),
``run_autograder`` (run per submission), ``cnngrade-src/`` (this package's source, its bundled MNIST
included), ``graders/`` and the lab (``lab/``: lab.toml and reference/).

``run_autograder`` calls :func:`run` (``python -m cnngrade.gradescope --root /autograder``): the
submission in ``ROOT/submission`` is staged as ``cnngrade batch`` stages a student's entry (bad input
becomes a score of 0 with the reason in ``output``), graded in the sandbox by ``cnngrade grade``, and
``ROOT/results/results.json`` is written: every check with its ``visibility`` from ``[visibility]`` of
lab.toml (``visible`` unless set: ``hidden``, ``after_due_date``, ``after_published``), the total
``execution_time``, an ``output`` summary and a ``leaderboard`` (accuracy and FPS, from what the checks
measured). ``ROOT`` is configurable (``--root``, ``$CNNGRADE_AUTOGRADER_ROOT``) for tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from cnngrade.batch import atomic
from cnngrade.batch.intake import Entry, Rejected, stage
from cnngrade.lab.config import LabConfig

__all__ = ["build_autograder", "run"]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
apt-get install -y -qq python3 python3-venv bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --disable-pip-version-check /autograder/source/cnngrade-src
"""
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission in the sandbox, write
# /autograder/results/results.json. CNNGRADE_AUTOGRADER_ROOT and CNNGRADE_PYTHON change where (tests).
root=${CNNGRADE_AUTOGRADER_ROOT:-/autograder}
exec "${CNNGRADE_PYTHON:-$root/venv/bin/python}" -m cnngrade.gradescope --root "$root"
"""
#: a fixed time for the zip's entries: the same inputs give the same bytes
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _add_tree(archive: zipfile.ZipFile, folder: Path, prefix: str, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                _add(archive, f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())


def build_autograder(target: Path, graders: Path, lab: Path | None = None) -> Path:
    """Write Gradescope's ``autograder.zip`` to ``target`` (see the module's docstring)."""
    import cnngrade

    package = Path(cnngrade.__file__).parent
    project = package.parent
    lab_dir = lab or graders.parent
    lab_toml = lab / "lab.toml" if lab else graders / "lab.toml"
    _ = LabConfig.load(lab_toml).parts  # a lab.toml that cannot be graded fails here, not on Gradescope
    target.parent.mkdir(parents=True, exist_ok=True)
    built = target.with_name(atomic.PARTIAL_PREFIX + target.name)
    with zipfile.ZipFile(built, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
        for name in ("pyproject.toml", "README.md"):
            _add(archive, f"cnngrade-src/{name}", (project / name).read_bytes())
        _add_tree(archive, package, "cnngrade-src/cnngrade", ("**/*.py", "**/*.npz", "**/*.json", "**/*.j2",
                                                              "lab/new_lab/*"))
        _add_tree(archive, graders, "graders", ("*.py",))
        _add(archive, "lab/lab.toml", lab_toml.read_bytes())
        _add_tree(archive, lab_dir / "reference", "lab/reference", ("*",))
    os.replace(built, target)
    return target


def _leaderboard(tests: list[dict]) -> list[dict]:
    """Accuracy (of the "learns" check) and FPS (of the speed check), from what they measured."""
    board = []
    for test in tests:
        data = test.get("extra_data", {})
        if "accuracy" in data:
            board.append({"name": "accuracy", "value": round(data["accuracy"], 4), "order": "desc"})
        if "fps" in data:
            board.append({"name": "FPS", "value": round(data["fps"], 1), "order": "desc"})
    return board


def _finish(results: dict, lab: LabConfig, seconds: float) -> dict:
    """Gradescope's fields around what ``cnngrade grade`` wrote: visibility, time, output, leaderboard."""
    visibility = lab.get("visibility", {})
    for test in results.get("tests", []):
        test["visibility"] = visibility.get(test["number"], "visible")
    results["execution_time"] = round(seconds, 1)
    failed = [t for t in results.get("tests", []) if t["status"] != "passed"]
    results.setdefault("output", f"{len(results.get('tests', [])) - len(failed)} checks passed, {len(failed)} "
                                 f"did not; each check below says what it expected and what it saw.")
    board = _leaderboard(results.get("tests", []))
    if board:
        results["leaderboard"] = board
    return results


def run(root: Path) -> dict:
    """Grade ``root/submission`` with the lab in ``root/source``; write and return
    ``root/results/results.json``."""
    source, started = root / "source", time.monotonic()
    lab = LabConfig.load(source / "lab" / "lab.toml")
    with tempfile.TemporaryDirectory(prefix="cnngrade-") as scratch:
        staged_dir = Path(scratch, "submission")
        staged_dir.mkdir()
        target = Path(scratch, "results.json")
        try:
            graded = stage(Entry("submission", root / "submission"), staged_dir, lab.parts)
        except Rejected as exc:
            results = {"score": 0.0, "output": f"Your submission could not be graded: {exc}.", "tests": []}
        else:
            command = [sys.executable, "-m", "cnngrade", "grade", str(graded), "--graders",
                       str(source / "graders"), "--lab", str(source / "lab"), "--results-json", str(target)]
            completed = subprocess.run(command, capture_output=True, text=True, cwd=scratch)
            try:
                results = json.loads(target.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                tail = " ".join((completed.stderr or completed.stdout).split())[-600:]
                results = {"score": 0.0, "tests": [], "output": "Grading failed before it could score your "
                           f"submission (exit status {completed.returncode}): {tail}"}
    results = _finish(results, lab, time.monotonic() - started)
    atomic.write_text(root / "results" / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnngrade.gradescope",
                                     description="Grade /autograder/submission as Gradescope's run_autograder.")
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("CNNGRADE_AUTOGRADER_ROOT", "/autograder")))
    args = parser.parse_args(argv)
    results = run(args.root)
    print(f"cnngrade: {results['score']:g}/{results.get('max_score', 0):g}; results in "
          f"{args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
