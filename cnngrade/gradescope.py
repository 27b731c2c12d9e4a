"""Gradescope: ``cnngrade gradescope`` builds ``autograder.zip``; ``run_autograder`` grades one submission.

The zip (Gradescope's autograder format) holds ``setup.sh`` (run once, as root, when Gradescope builds
its image), ``run_autograder`` (run per submission), ``constraints.txt`` (the pinned versions),
``cnngrade-src/`` (this package's source, its bundled MNIST included), ``graders/``, the lab (``lab/``:
lab.toml and reference/) and, when the lab's accuracy dataset does not ship with cnngrade, that dataset
(``data/``, torchvision's layout).

**The image** (``setup.sh``): ``apt-get update``, then ``apt-get install`` of python3, python3-venv and
bubblewrap; a virtual environment in ``/autograder/venv``; torch and torchvision pinned to the CPU builds
of the versions installed where the zip was built (``2.14.1`` or ``2.14.1+cu128`` there gives
``2.14.1+cpu``), from PyTorch's CPU wheel index (:data:`TORCH_INDEX_URL`; ``$CNNGRADE_TORCH_INDEX_URL``
overrides it, for a mirror, and set but empty means pip's own index); then cnngrade, every other package
at the version of ``constraints.txt`` (``PIP_CONSTRAINT``, which cnngrade's isolated build also obeys).
``constraints.txt`` is written at build time (:func:`installed_pins`) from what is installed in the
building environment, where the tests and ``check-lab`` ran: cnngrade's dependencies and theirs, walked
through their metadata, less torch and torchvision (pinned in setup.sh) and the CUDA build's own packages
(:data:`CUDA_ONLY`). Each step that fails stops setup.sh, naming the step.

**The data.** A lab whose ``[accuracy] dataset`` is not ``mnist-bundled`` gets its dataset's files in
the zip, found as the graders find them (``--data-root``, else ``[accuracy] data_root`` of lab.toml, then
the user cache, and Debian's folder for Fashion-MNIST); a dataset found nowhere stops the build
(:class:`BuildError`), saying where it looked and to pass ``--data-root DIR``. ``run_autograder`` grades
with ``--data-root`` at the zip's ``data/``.

``run_autograder`` calls :func:`run` (``python -m cnngrade.gradescope --root /autograder``): the
submission in ``ROOT/submission`` is staged as ``cnngrade batch`` stages a student's entry (bad input
becomes a score of 0 with the reason in ``output``), graded in the sandbox by ``cnngrade grade``, and
``ROOT/results/results.json`` is written: every check with its ``visibility`` from ``[visibility]`` of
lab.toml (``visible`` unless set: ``hidden``, ``after_due_date``, ``after_published``), the total
``execution_time``, an ``output`` summary and a ``leaderboard`` (accuracy and FPS, from what the checks
measured). ``ROOT`` is configurable (``--root``, ``$CNNGRADE_AUTOGRADER_ROOT``, read by setup.sh too) for
tests.
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
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from cnngrade.batch import atomic
from cnngrade.batch.intake import Entry, Rejected, stage
from cnngrade.lab.config import LabConfig

if TYPE_CHECKING:  # cnngrade.data imports torch: run_autograder's own process does without it
    from cnngrade.data.datasets import DatasetLocation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["BuildError", "Built", "GradingFailed", "Pins", "build_autograder", "grade_command", "installed_pins", "run"]

#: where setup.sh installs torch and torchvision from, unless ``$CNNGRADE_TORCH_INDEX_URL`` is set
TORCH_INDEX_URL = "https://download.pytorch.org/whl/cpu"
#: the packages setup.sh installs from the torch index, pinned in setup.sh itself
TORCH_PACKAGES = ("torch", "torchvision")
#: name prefixes of the packages only torch's CUDA build asks for: not in constraints.txt
CUDA_ONLY = ("nvidia-", "cuda-", "triton")
#: the zip's file of pinned versions, and its folder of data
CONSTRAINTS = "constraints.txt"
DATA = "data"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (written by cnngrade gradescope).
# It installs torch @TORCH@ and torchvision @TORCHVISION@ (CPU builds) from
# $CNNGRADE_TORCH_INDEX_URL (default @INDEX@; set but empty: pip's own index),
# then cnngrade with every other package at the version of constraints.txt.
# CNNGRADE_AUTOGRADER_ROOT moves /autograder (tests).
set -euo pipefail
root=${CNNGRADE_AUTOGRADER_ROOT:-/autograder}
venv=$root/venv
torch_index=${CNNGRADE_TORCH_INDEX_URL-@INDEX@}
step="starting"
trap 'status=$?; echo "setup.sh: FAILED while $step (exit status $status); the lines above say why." >&2' ERR

step="checking that it runs as root"
if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: FAILED: run it as root, as Gradescope does (it installs packages with apt-get)." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
step="updating the package lists (apt-get update)"
apt-get update
step="installing python3, python3-venv and bubblewrap (apt-get install)"
apt-get install -y --no-install-recommends python3 python3-venv bubblewrap

step="creating the virtual environment $venv"
/usr/bin/python3 -m venv --clear "$venv"
python=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$python" != "@PYTHON@" ]; then
    echo "setup.sh: warning: constraints.txt was made with Python @PYTHON@, this image has Python $python;" \\
         "if pip finds no build of a pinned version, pick Gradescope's base image with Python @PYTHON@" \\
         "or build the zip with Python $python." >&2
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
index=()
if [ -n "$torch_index" ]; then index=(--index-url "$torch_index"); fi

step="installing torch @TORCH@ and torchvision @TORCHVISION@ from ${torch_index:-the index pip is configured with}"
"${pip[@]}" install --progress-bar off --no-deps "${index[@]}" "torch==@TORCH@" "torchvision==@TORCHVISION@"
step="installing cnngrade, every other package at the version of constraints.txt"
PIP_CONSTRAINT="$root/source/constraints.txt" "${pip[@]}" install --progress-bar off "$root/source/cnngrade-src"
step="checking what was installed (pip check, import torch and cnngrade)"
"${pip[@]}" check
"$venv/bin/python" -c 'import cnngrade, torch, sys; assert torch.__version__ == sys.argv[1], torch.__version__' \\
    "@TORCH@"
echo "setup.sh: done: torch @TORCH@ and cnngrade are installed in $venv."
"""
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission in the sandbox, write
# /autograder/results/results.json. CNNGRADE_AUTOGRADER_ROOT and CNNGRADE_PYTHON change where (tests).
root=${CNNGRADE_AUTOGRADER_ROOT:-/autograder}
exec "${CNNGRADE_PYTHON:-$root/venv/bin/python}" -m cnngrade.gradescope --root "$root"
"""
#: a fixed time for the zip's entries: the same inputs give the same bytes
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


class BuildError(Exception):
    """The zip cannot be built as asked; the message says what was seen and what to do."""


@dataclass(frozen=True)
class Pins:
    """The versions setup.sh installs: torch's and torchvision's CPU builds, and every other package's
    (canonical name -> version) for constraints.txt; ``python`` is the building Python's ``X.Y``."""

    torch: str
    torchvision: str
    others: dict[str, str]
    python: str

    def constraints(self) -> str:
        """constraints.txt: a comment saying where the pins come from, then ``name==version`` lines."""
        header = (f"# The versions installed where `cnngrade gradescope` built this zip (Python {self.python}, "
                  f"{sys.platform}):\n# cnngrade's dependencies and theirs. setup.sh installs cnngrade with "
                  f"PIP_CONSTRAINT=constraints.txt;\n# torch {self.torch} and torchvision {self.torchvision} "
                  "are pinned in setup.sh, and the CUDA build's own packages left out.\n")
        return header + "".join(f"{name}=={version}\n" for name, version in sorted(self.others.items()))

    def setup_sh(self) -> str:
        """setup.sh with these pins."""
        values = {"TORCH": self.torch, "TORCHVISION": self.torchvision, "PYTHON": self.python,
                  "INDEX": TORCH_INDEX_URL}
        text = SETUP_SH
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        return text


def cpu_build(version: str) -> str:
    """The CPU build's version of ``version``: its local label (``+cu128``, none on PyPI) becomes ``+cpu``."""
    return f"{Version(version).public}+cpu"


def _installed(name: str, wanted_by: str) -> metadata.Distribution:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise BuildError(f"{name}, which {wanted_by} needs, is not installed in this Python ({sys.executable}), "
                         "so the zip cannot pin the version the tests ran with: install cnngrade with its "
                         "dependencies here (pip install -e .), then build again.") from None


def _walk(requirements: list[str], wanted_by: str, optional: bool, pins: dict[str, str]) -> None:
    """Add to ``pins`` the installed version of each requirement that applies here (its markers, with the
    extras asked for), and of theirs; a missing one raises :class:`BuildError` unless ``optional``."""
    todo = [(Requirement(text), wanted_by) for text in requirements]
    seen: set[tuple[str, str]] = set()
    while todo:
        requirement, parent = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = [extra for extra in ("", *sorted(requirement.extras)) if (name, extra) not in seen]
        if name == "cnngrade" or name.startswith(CUDA_ONLY) or not extras:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            distribution = _installed(name, parent)
        except BuildError:
            if optional:
                continue
            raise
        seen.update((name, extra) for extra in extras)
        if name not in TORCH_PACKAGES:
            pins[name] = distribution.version
        for text in distribution.requires or []:
            child = Requirement(text)
            if child.marker is None or any(child.marker.evaluate({"extra": extra}) for extra in extras):
                child.marker = None
                todo.append((child, name))


def installed_pins(project: Path) -> Pins:
    """The pins of the packages ``project/pyproject.toml`` asks for (and its build backend's, where
    installed), at the versions installed in this Python (see the module's docstring)."""
    with open(project / "pyproject.toml", "rb") as file:
        pyproject = tomllib.load(file)
    pins: dict[str, str] = {}
    _walk(pyproject["project"]["dependencies"], "cnngrade", optional=False, pins=pins)
    _walk(pyproject.get("build-system", {}).get("requires", []), "cnngrade's build", optional=True, pins=pins)
    torch, torchvision = (cpu_build(_installed(name, "cnngrade").version) for name in TORCH_PACKAGES)
    return Pins(torch, torchvision, pins, f"{sys.version_info.major}.{sys.version_info.minor}")


def lab_dataset(lab: LabConfig, data_root: Path | None) -> DatasetLocation | None:
    """Where the lab's accuracy dataset is, when it is one of cnngrade's that does not ship with it (None
    when it does, when it is the lab's own, whose file goes into the zip with lab.toml once its sha256
    and content are checked, or when the lab has none); looked for as the graders look (``data_root``,
    else ``[accuracy] data_root`` of lab.toml, then the user cache). Raises :class:`BuildError` when it is
    nowhere, or the lab cannot grade on it."""
    from cnngrade.data.datasets import find_dataset
    from cnngrade.data.errors import DataError, DatasetNotFound
    from cnngrade.data.lab_data import grading_dataset

    try:
        chosen = grading_dataset(lab, None, data_root)
        if chosen is not None and chosen.own is not None:
            chosen.load()
        if chosen is None or chosen.own is not None or chosen.name == "mnist-bundled":
            return None
        name = chosen.name
        return find_dataset(name, chosen.root, origin=chosen.origin)
    except DatasetNotFound as exc:
        raise BuildError(f"The lab grades accuracy on '{name}' ([accuracy] dataset of {lab.path}), which does "
                         "not ship with cnngrade: its files go into the zip, and they were not found here.\n"
                         f"{exc}\nThen build again with the folder that holds it: cnngrade gradescope "
                         "--data-root DIR (with --lab and --out as before).") from None
    except DataError as exc:
        raise BuildError(f"{lab.path}: {exc}") from None


def _own_datasets(lab: LabConfig) -> list[Path]:
    """The files of the datasets the lab ships (``[datasets]`` of lab.toml), inside its folder."""
    from cnngrade.data.lab_data import lab_datasets

    return [spec.file for spec in lab_datasets(lab.get("datasets", None), lab.path.parent).values()]


def _dataset_files(location: DatasetLocation) -> list[Path]:
    """The dataset's files, and CIFAR-10's ``batches.meta`` (its class names) where there is one."""
    files = sorted(set(location.files.values()))
    meta = location.folder / "batches.meta"
    return files + [meta] if location.name == "cifar10" and meta.is_file() else files


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_STORED if name.endswith(".gz") else zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _add_tree(archive: zipfile.ZipFile, folder: Path, prefix: str, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                _add(archive, f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())


@dataclass(frozen=True)
class Built:
    """What :func:`build_autograder` wrote: the zip, its pins, and the dataset it holds (None: none)."""

    path: Path
    pins: Pins
    dataset: DatasetLocation | None


def build_autograder(target: Path, graders: Path, lab: Path | None = None, data_root: Path | None = None,
                     pins: Pins | None = None) -> Built:
    """Write Gradescope's ``autograder.zip`` to ``target`` (see the module's docstring). ``pins``: the
    versions setup.sh installs (default: :func:`installed_pins`, what this Python has; tests pass others)."""
    import cnngrade

    package = Path(cnngrade.__file__).parent
    project = package.parent
    lab_dir = lab or graders.parent
    lab_toml = lab / "lab.toml" if lab else graders / "lab.toml"
    config = LabConfig.load(lab_toml).validate()  # a lab.toml that cannot grade fails here, not on Gradescope
    dataset = lab_dataset(config, data_root)
    pins = pins or installed_pins(project)
    target.parent.mkdir(parents=True, exist_ok=True)
    built = target.with_name(atomic.PARTIAL_PREFIX + target.name)
    try:
        with zipfile.ZipFile(built, "w") as archive:
            _add(archive, "setup.sh", pins.setup_sh().encode(), executable=True)
            _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
            _add(archive, CONSTRAINTS, pins.constraints().encode())
            for name in ("pyproject.toml", "README.md"):
                _add(archive, f"cnngrade-src/{name}", (project / name).read_bytes())
            _add_tree(archive, package, "cnngrade-src/cnngrade", ("**/*.py", "**/*.npz", "**/*.json", "**/*.j2",
                                                                  "lab/new_lab/*"))
            _add_tree(archive, graders, "graders", ("*.py",))
            _add(archive, "lab/lab.toml", lab_toml.read_bytes())
            _add_tree(archive, lab_dir / "reference", "lab/reference", ("*",))
            for path in _own_datasets(config):
                _add(archive, f"lab/{path.relative_to(lab_toml.parent.resolve()).as_posix()}", path.read_bytes())
            if dataset is not None:
                from cnngrade.data.datasets import search_dirs

                folder = search_dirs(dataset.name, Path(DATA))[0][0].as_posix()  # torchvision's layout
                for path in _dataset_files(dataset):
                    _add(archive, f"{folder}/{path.name}", path.read_bytes())
        os.replace(built, target)
    finally:
        built.unlink(missing_ok=True)
    return Built(target, pins, dataset)


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


def grade_command(source: Path, submission: Path, target: Path) -> list[str]:
    """``cnngrade grade`` of ``submission`` with the zip's graders and lab (unpacked in ``source``), writing
    ``target``; with ``--data-root`` at the zip's data where it holds some."""
    command = [sys.executable, "-m", "cnngrade", "grade", str(submission), "--graders", str(source / "graders"),
               "--lab", str(source / "lab"), "--results-json", str(target)]
    if (source / DATA).is_dir():
        command += ["--", "--data-root", str(source / DATA)]
    return command


class GradingFailed(Exception):
    """Grading stopped through no fault of the submission (the grading machine's, or cnngrade's): no
    results.json is written, so Gradescope shows the autograder as failed, never a score of 0."""


def run(root: Path) -> dict:
    """Grade ``root/submission`` with the lab in ``root/source``; write and return
    ``root/results/results.json``. :class:`GradingFailed` where the grading gave no score (nothing is
    written: a failed autograder run, which the course staff can run again, not a 0 for the student)."""
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
            completed = subprocess.run(grade_command(source, graded, target), capture_output=True, text=True,
                                       cwd=scratch)
            try:
                results = json.loads(target.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                tail = " ".join((completed.stderr or completed.stdout).split())[-600:]
                raise GradingFailed(f"grading ended with exit status {completed.returncode} and no score: "
                                    f"{tail}") from None
    results = _finish(results, lab, time.monotonic() - started)
    atomic.write_text(root / "results" / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnngrade.gradescope",
                                     description="Grade /autograder/submission as Gradescope's run_autograder.")
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("CNNGRADE_AUTOGRADER_ROOT", "/autograder")))
    args = parser.parse_args(argv)
    try:
        results = run(args.root)
    except GradingFailed as exc:
        print(f"cnngrade: this submission was not graded because of a problem on the grading side, not in the "
              f"student's work ({exc}). Course staff: fix it, then regrade the submission.")
        return 1
    print(f"cnngrade: {results['score']:g}/{results.get('max_score', 0):g}; results in "
          f"{args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
