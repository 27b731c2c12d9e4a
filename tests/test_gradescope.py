"""``cnngrade gradescope``: the autograder zip, and its ``setup.sh`` and ``run_autograder`` run in a folder
laid out as Gradescope's ``/autograder`` (its root configurable for tests), on the MLP lab (cheap to grade
whole). Every results.json it writes validates against Gradescope's documented format
(tests/gradescope_results.schema.json). The zip is built, set up and run on three submissions by the job
``gradescope``, beside the corpus's gradings (tests/corpus.py).

**The image, as Gradescope builds it.** Where this machine allows (root, apt-get, /usr/bin/python3 with
venv, and a CPU build of torch on disk: PyTorch's CPU index is out of reach here), the job runs the zip's
``setup.sh`` as Gradescope does: ``apt-get update`` and ``install``, a fresh virtual environment in a fresh
root folder, torch from a package index (a local PEP 503 folder standing for PyTorch's CPU index, through
``$CNNGRADE_TORCH_INDEX_URL``), everything else from the package registries pip is configured with, pinned
by ``constraints.txt``; then ``run_autograder`` grades with that environment's Python. The zip it sets up
pins the CPU build found on disk (which may be another version than this environment's torch, whose pins
the other tests check); everything else is what ``cnngrade gradescope`` writes. Elsewhere the job runs
``run_autograder`` with this Python and the image's tests skip, saying why.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from cnngrade import gradescope
from cnngrade.data.datasets import load_dataset
from cnngrade.data.idx import write_idx
from cnngrade.grader.invocation import Runner
from tests.cifar_data import write_cifar10_like
from tests.container import container_problem
from tests.corpus import background
from tests.paths import ROOT, TESTS
from tests.sandboxes import sandbox_or_skip

SCHEMA = json.loads((TESTS / "gradescope_results.schema.json").read_text())
MLP = ROOT / "labs" / "mlp-mnist"
CIFAR = ROOT / "labs" / "cifar10-cnn"
#: the MLP lab's submission that misses a ReLU: only the architecture check fails
BUGGY = TESTS / "labs" / "mlp-mnist" / "missing_relu"
#: the Python Debian's and Ubuntu's python3 package installs, which setup.sh makes its venv with
SYSTEM_PYTHON = Path("/usr/bin/python3")
#: folders of wheels the image's test looks in for a CPU build of torch (besides $PIP_FIND_LINKS)
WHEELS_ENV = "CNNGRADE_TEST_TORCH_WHEELS"


def build_autograder(root: Path) -> Path:
    """The MLP lab's autograder.zip, with [visibility] for two of its checks, in ``root`` (its lab in
    ``root/lab``)."""
    lab = root / "lab"
    shutil.copytree(MLP, lab, ignore=shutil.ignore_patterns("__pycache__"))
    with open(lab / "lab.toml", "a") as toml:
        toml.write('\n[visibility]\ntest_learns = "after_published"\ntest_inference_speed = "hidden"\n')
    made = subprocess.run([sys.executable, "-m", "cnngrade", "gradescope", "--lab", str(lab), "--out",
                           str(root / "autograder.zip")], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    return root / "autograder.zip"


def unpack(autograder: Path, root: Path) -> Path:
    """Unpack the zip into ROOT/source, as Gradescope does; ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
    return root


def clean_env(root: Path, **more: str) -> dict[str, str]:
    """This process's environment with ``CNNGRADE_AUTOGRADER_ROOT`` at ``root``, less what would let the
    image's Python see this one's packages, and the sandbox a test beside this job may have chosen."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "CNNGRADE_PYTHON", "CNNGRADE_SANDBOX")}
    return {**env, "CNNGRADE_AUTOGRADER_ROOT": str(root), **more}


def run_autograder(root: Path, submission: Path | None, python: str | None = None,
                   container: bool = False) -> tuple[dict, float]:
    """Put the submission in ROOT/submission (empty when None) and run ROOT/source/run_autograder with the
    image's venv (``python``: another Python), as a Docker container runs it where ``container``
    (tests/container.py: no CAP_SYS_ADMIN, namespaces refused): the results.json it wrote, and its seconds."""
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
    (root / "submission").mkdir()
    if submission is not None:
        shutil.copytree(submission, root / "submission", dirs_exist_ok=True)
    started = time.monotonic()
    launcher = [sys.executable, str(ROOT / "tests" / "container.py")] if container else []
    run = subprocess.run([*launcher, str(root / "source" / "run_autograder")], capture_output=True, text=True,
                         timeout=600,
                         cwd=root, env=clean_env(root, **({"CNNGRADE_PYTHON": python} if python else {})))
    seconds = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return results, seconds


# --------------------------------------------------------------------------- the image, as Gradescope builds it


def _python_tag() -> str:
    version = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sys; print('%d%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    return f"cp{version}"


def _wheels(folders: list[Path], name: str, tag: str) -> list[tuple[Version, Path]]:
    """``(version, path)`` of the wheels of ``name`` for Python ``tag`` in ``folders``, newest first."""
    found = []
    for folder in folders:
        for path in folder.glob(f"{name}-*.whl") if folder.is_dir() else ():
            wheel, version, _, tags = parse_wheel_filename(path.name)
            if wheel == name and any(t.interpreter == tag for t in tags):
                found.append((version, path))
    return sorted(found, reverse=True)


def image_pins(index: Path) -> tuple[gradescope.Pins | None, str]:
    """Pins for a CPU build of torch found on disk, with ``index`` made a PEP 503 index of its wheel (and of
    torchvision's where one is there too); or None and why the image cannot be built here."""
    if os.geteuid() != 0:
        return None, "not root: setup.sh runs apt-get as root, as on Gradescope"
    if shutil.which("apt-get") is None:
        return None, "no apt-get here: setup.sh installs python3-venv and bubblewrap with it, as on Gradescope"
    if not SYSTEM_PYTHON.exists():
        return None, f"no {SYSTEM_PYTHON} here (Debian's and Ubuntu's python3, which setup.sh makes its venv with)"
    folders = [Path(p) for p in f"{os.environ.get(WHEELS_ENV, '')} {os.environ.get('PIP_FIND_LINKS', '')}".split()]
    tag = _python_tag()
    cpu = [(v, p) for v, p in _wheels(folders, "torch", tag) if v.local == "cpu"]
    if not cpu:
        return None, (f"no CPU build of torch (torch-*+cpu-{tag}-*.whl) in ${WHEELS_ENV} or $PIP_FIND_LINKS "
                      f"({' '.join(map(str, folders)) or 'neither is set'}), and PyTorch's CPU index is out of reach")
    pins = gradescope.installed_pins(ROOT)
    torch, wheel = next(((v, p) for v, p in cpu if str(v) == pins.torch), cpu[0])
    # torchvision 0.(N+15).P goes with torch 2.N.P; a CPU build where there is one, else pip's (never imported
    # while grading)
    wanted = Version(f"0.{torch.minor + 15}.{torch.micro}")
    vision = [(v, p) for v, p in _wheels(folders, "torchvision", tag) if Version(v.public) == wanted]
    links = {"torch": wheel, **({"torchvision": vision[0][1]} if vision else {})}
    for name, path in links.items():
        (index / name).mkdir(parents=True)
        (index / name / path.name).symlink_to(path)
    return dataclasses.replace(pins, torch=str(torch), torchvision=str(vision[0][0] if vision else wanted)), ""


@dataclass
class Image:
    """The zip's setup.sh run in a fresh root folder (``root``; its venv in ``root/venv``)."""

    root: Path
    pins: gradescope.Pins
    setup: subprocess.CompletedProcess
    setup_seconds: float
    #: every distribution of the image's venv: name -> version
    installed: dict[str, str]
    #: results.json of the MLP lab's reference, of its buggy submission and of a submission that attacks
    #: the autograder, graded there (the reference and the attacker in a container where one can be played)
    reference: dict = dataclasses.field(default_factory=dict)
    buggy: dict = dataclasses.field(default_factory=dict)
    hostile: dict = dataclasses.field(default_factory=dict)
    #: why the gradings could not run in a simulated container (the landlock tier), or ""
    no_container: str = ""
    #: run_autograder's seconds per submission
    run_seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def set_up_image(scratch: Path, lab: Path, pins: gradescope.Pins, index: Path) -> Image:
    """Build the lab's zip with ``pins`` and run its setup.sh in a fresh root, torch from ``index``."""
    autograder = gradescope.build_autograder(scratch / "image.zip", ROOT / "graders", lab, pins=pins).path
    root = unpack(autograder, scratch / "image")
    started = time.monotonic()
    setup = subprocess.run([str(root / "source" / "setup.sh")], capture_output=True, text=True, timeout=900,
                           cwd=root, env=clean_env(root, CNNGRADE_TORCH_INDEX_URL=index.as_uri()))
    seconds = time.monotonic() - started
    installed = {}
    if setup.returncode == 0:
        listed = subprocess.run([str(root / "venv" / "bin" / "python"), "-c", "import importlib.metadata as m, json; "
                                 "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"],
                                capture_output=True, text=True, timeout=120, env=clean_env(root), check=True)
        installed = {canonicalize_name(k): v for k, v in json.loads(listed.stdout).items()}
    return Image(root, pins, setup, seconds, installed)


@dataclass
class Autograded:
    autograder: Path
    #: results.json of the MLP lab's reference, and of an empty submission, graded with this environment
    reference: dict
    empty: dict


ATTACK = """
import json as _json, os as _os
_FORGED = {"score": 999, "tests": []}
for _target in ("{root}/results/results.json", "/autograder/results/results.json"):
    try:
        _os.makedirs(_os.path.dirname(_target), exist_ok=True)
        with open(_target, "w") as _f:
            _json.dump(_FORGED, _f)
    except OSError:
        pass
try:
    _STOLEN = open("{root}/source/lab/reference/mlp.py").read()
except OSError:
    _STOLEN = ""
try:
    with open("{root}/attacker-was-here", "w") as _f:
        _f.write(_STOLEN)
except OSError:
    pass
"""


def attacker(folder: Path, root: Path) -> Path:
    """The MLP lab's reference whose Net() first forges Gradescope's results.json, reads the lab's
    reference and writes into the autograder's root."""
    folder.mkdir(parents=True)
    source = (MLP / "reference" / "mlp.py").read_text()
    marker = "    def __init__(self"
    assert source.count(marker) == 1
    head, tail = source.split(marker)
    body = "".join(f"        {line}\n" for line in ATTACK.replace("{root}", str(root)).strip().splitlines())
    signature, rest = tail.split("\n", 1)
    (folder / "mlp.py").write_text(f"{head}{marker}{signature}\n{body}{rest}")
    return folder


@background("gradescope", cost=22)
def autograde(scratch: Path, _warm: Runner) -> Autograded:
    """The MLP lab's autograder.zip, and its run_autograder (with this environment's Python) on the
    lab's reference and on an empty submission."""
    sandbox_or_skip()
    autograder = build_autograder(scratch)
    empty, _ = run_autograder(unpack(autograder, scratch / "empty"), None, python=sys.executable)
    reference, _ = run_autograder(unpack(autograder, scratch / "reference"), MLP / "reference", sys.executable)
    return Autograded(autograder, reference, empty)


@background("gradescope_image", cost=110)
def set_up_and_grade_in_an_image(scratch: Path, _warm: Runner) -> Image | str:
    """The zip's setup.sh in a fresh root folder (a fresh venv from the package registries, torch from a
    local index standing in for PyTorch's CPU index), then its run_autograder there: the reference and a
    submission attacking the autograder as Gradescope's container runs them (landlock tier), the buggy
    one as is. Why not, where this machine cannot build such an image."""
    sandbox_or_skip()
    pins, why = image_pins(scratch / "index")
    if pins is None:
        return why
    build_autograder(scratch)  # the lab, with its [visibility], in scratch/lab
    for folder in (scratch.parent, scratch):  # as /autograder is: a sandboxed uid reaches the image's venv
        os.chmod(folder, 0o755)
    image = set_up_image(scratch, scratch / "lab", pins, scratch / "index")
    assert image.setup.returncode == 0, f"setup.sh failed:\n{image.setup.stdout[-3000:]}\n{image.setup.stderr}"
    image.no_container = container_problem()
    container = not image.no_container
    image.reference, image.run_seconds["reference"] = run_autograder(image.root, MLP / "reference",
                                                                     container=container)
    image.buggy, image.run_seconds["buggy"] = run_autograder(image.root, BUGGY)
    if container:
        image.hostile, image.run_seconds["hostile"] = run_autograder(
            image.root, attacker(scratch / "attacker", image.root), container=True)
    return image


@pytest.fixture(scope="module")
def autograded(corpus) -> Autograded:
    return corpus.result("gradescope")


@pytest.fixture(scope="module")
def image(corpus) -> Image:
    built = corpus.result("gradescope_image")
    if isinstance(built, str):
        pytest.skip(f"no Gradescope-like image here: {built}")
    return built


@pytest.mark.grades("gradescope")
def test_the_zip_holds_what_gradescope_runs(autograded):
    autograder = autograded.autograder
    with zipfile.ZipFile(autograder) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "constraints.txt", "cnngrade-src/pyproject.toml",
            "cnngrade-src/cnngrade/data/mnist_bundle.npz", "graders/test_1_structure.py", "lab/lab.toml",
            "lab/reference/mlp.py", "cnngrade-src/cnngrade/batch/templates/report.html.j2"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not any("__pycache__" in name for name in names)
    assert not any(name.startswith("data/") for name in names)  # the MLP lab grades on the bundled MNIST


@pytest.mark.grades("gradescope")
def test_run_autograder_grades_the_submission_in_the_sandbox(autograded):
    results = autograded.reference
    assert results["score"] == results["max_score"] == 115 and results["execution_time"] > 0  # no dropout check
    tests = {t["number"]: t for t in results["tests"]}
    assert tests["test_learns"]["visibility"] == "after_published"
    assert tests["test_inference_speed"]["visibility"] == "hidden"
    assert tests["test_net_builds"]["visibility"] == "visible"
    board = {entry["name"]: entry for entry in results["leaderboard"]}
    assert 0.92 < board["accuracy"]["value"] <= 1 and board["FPS"]["value"] > 0 and board["FPS"]["order"] == "desc"
    assert results["extra_data"]["backend"].startswith("isolated")
    assert "checks passed, 0 did not" in results["output"]


def test_the_schema_refuses_what_gradescope_would():
    for broken in ({"tests": [{"name": "x", "status": "ok", "score": 1}]}, {"score": "ten"},
                   {"score": 1, "visibility": "sometimes"}, {"score": 1, "leaderboard": [{"value": 3}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


@pytest.mark.grades("gradescope")
def test_a_submission_that_cannot_be_graded_gets_a_reason(autograded):
    results = autograded.empty
    assert results["score"] == 0 and results["tests"] == []
    assert results["output"] == "Your submission could not be graded: the folder submission is empty."


@pytest.mark.deploy
@pytest.mark.grades("gradescope_image")
def test_setup_sh_builds_a_fresh_venv_with_the_pinned_versions(image):
    """setup.sh, run as Gradescope runs it, installed the pinned CPU torch and every other package at the
    version of constraints.txt, in a venv of its own."""
    assert image.setup.returncode == 0 and "setup.sh: done" in image.setup.stdout
    assert image.installed["torch"] == image.pins.torch and Version(image.pins.torch).local == "cpu"
    assert image.installed["torchvision"] == image.pins.torchvision
    unpinned = set(image.installed) - set(image.pins.others) - {"pip", "cnngrade", "torch", "torchvision"}
    assert not unpinned, f"installed without a pin: {sorted(unpinned)}"
    wrong = {name: (image.installed[name], version) for name, version in image.pins.others.items()
             if name in image.installed and image.installed[name] != version}
    assert not wrong, f"installed (left) other than pinned (right): {wrong}"
    assert not any(name.startswith(gradescope.CUDA_ONLY) for name in image.installed)  # no CUDA libraries
    assert (image.root / "venv" / "bin" / "python").exists()
    print(f"setup.sh: {image.setup_seconds:.1f} s; run_autograder: "
          + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in image.run_seconds.items()))


@pytest.mark.deploy
@pytest.mark.grades("gradescope_image")
def test_the_image_grades_a_buggy_submission(image):
    """In the image's venv, the reference gets every point (test above) and the buggy one loses the check
    of its bug, with the reason."""
    buggy = image.buggy
    failed = [t for t in buggy["tests"] if t["status"] != "passed"]
    assert buggy["score"] < buggy["max_score"] == image.reference["max_score"] == image.reference["score"]
    assert [t["number"] for t in failed] == ["test_architecture"], failed
    assert buggy["extra_data"]["backend"].startswith("isolated")


@pytest.mark.deploy
@pytest.mark.grades("gradescope_image")
def test_the_image_grades_in_a_container_and_forges_nothing(image):
    """run_autograder of the image, as Gradescope's container runs it (root without CAP_SYS_ADMIN,
    namespaces refused): the landlock tier grades the reference whole; a submission that tries to
    forge results.json, read the lab's reference and write into /autograder gets what it earned."""
    if image.no_container:
        pytest.skip(f"this machine cannot play a container: {image.no_container}")
    assert image.reference["extra_data"]["backend"] == "isolated (landlock)"
    assert image.reference["score"] == image.reference["max_score"] == 115
    hostile = image.hostile
    assert hostile["extra_data"]["backend"] == "isolated (landlock)"
    assert hostile["score"] == image.reference["score"] and hostile["score"] != 999
    assert not (image.root / "attacker-was-here").exists()


# --------------------------------------------------------------------------- setup.sh and constraints.txt


@pytest.fixture(scope="module")
def lab4_zip(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    """Lab 4's zip, built in this process with this environment's versions."""
    built = gradescope.build_autograder(tmp_path_factory.mktemp("lab4") / "autograder.zip", ROOT / "graders")
    with zipfile.ZipFile(built.path) as archive:
        yield archive


def test_setup_sh_updates_apt_then_pins_torch_from_the_cpu_index(lab4_zip):
    setup = lab4_zip.read("setup.sh").decode()
    assert setup.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in setup
    assert 0 < setup.index("\napt-get update\n") < setup.index("\napt-get install -y")
    torch, vision = (f"{Version(metadata.version(name)).public}+cpu" for name in ("torch", "torchvision"))
    assert f'"torch=={torch}" "torchvision=={vision}"' in setup
    assert "torch_index=${CNNGRADE_TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}" in setup
    assert 'index=(--index-url "$torch_index")' in setup and '--no-deps "${index[@]}"' in setup
    assert 'PIP_CONSTRAINT="$root/source/constraints.txt"' in setup
    assert setup.index("--no-deps") < setup.index("PIP_CONSTRAINT=") < setup.index("pip[@]}\" check")


@pytest.mark.parametrize(("installed", "cpu"), [("2.14.1", "2.14.1+cpu"), ("2.14.1+cu128", "2.14.1+cpu"),
                                                ("0.29.1+cpu", "0.29.1+cpu")])
def test_the_cpu_build_of_an_installed_version(installed, cpu):
    assert gradescope.cpu_build(installed) == cpu


def test_constraints_pin_what_is_installed_here(lab4_zip):
    lines = [line for line in lab4_zip.read("constraints.txt").decode().splitlines() if not line.startswith("#")]
    pins = dict(line.split("==") for line in lines)
    assert list(pins) == sorted(pins) and all(name == canonicalize_name(name) for name in pins)
    assert pins == {name: metadata.version(name) for name in pins}
    wanted = [Requirement(text) for text in metadata.requires("cnngrade") if "extra ==" not in text]
    direct = {canonicalize_name(r.name) for r in wanted if r.marker is None or r.marker.evaluate()}
    assert direct - {"torch", "torchvision"} <= set(pins)
    assert {"sympy", "filelock", "jinja2", "pluggy", "contourpy"} <= set(pins)  # theirs: torch's, pytest's, ...
    assert not {"torch", "torchvision", "cnngrade"} & set(pins)
    assert not [name for name in pins if name.startswith(gradescope.CUDA_ONLY)]


def _fake(bin_dir: Path, name: str, script: str) -> None:
    (bin_dir / name).write_text(f"#!/bin/sh\n{script}\n")
    (bin_dir / name).chmod(0o755)


@pytest.mark.parametrize(("uid", "apt_status", "message"), [
    ("1000", 0, "setup.sh: FAILED: run it as root, as Gradescope does"),
    ("0", 100, "setup.sh: FAILED while updating the package lists (apt-get update) (exit status 100)"),
])
def test_setup_sh_fails_loudly_naming_the_step(lab4_zip, tmp_path, uid, apt_status, message):
    """With ``id`` and ``apt-get`` stand-ins: a user that is not root, and an apt-get that fails."""
    fakes = tmp_path / "bin"
    fakes.mkdir()
    _fake(fakes, "id", f"echo {uid}")
    _fake(fakes, "apt-get", f"echo 'E: stand-in apt-get failed' >&2; exit {apt_status}")
    (tmp_path / "setup.sh").write_bytes(lab4_zip.read("setup.sh"))
    run = subprocess.run(["bash", str(tmp_path / "setup.sh")], capture_output=True, text=True, timeout=60,
                         env=clean_env(tmp_path, PATH=f"{fakes}:{os.environ['PATH']}"))
    assert run.returncode != 0 and message in run.stderr, run.stderr
    assert not (tmp_path / "venv").exists()


# --------------------------------------------------------------------------- the lab's data


def _copy_lab(lab: Path, into: Path) -> Path:
    shutil.copytree(lab, into, ignore=shutil.ignore_patterns("__pycache__", "student_templates"))
    return into


def _build(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnngrade", "gradescope", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "CNNGRADE_CACHE": str(cache)})


def test_a_lab_whose_dataset_is_nowhere_is_refused_naming_the_option(tmp_path):
    lab = _copy_lab(CIFAR, tmp_path / "cifar")
    made = _build(["--lab", str(lab), "--out", str(tmp_path / "autograder.zip")], tmp_path / "empty-cache")
    assert made.returncode == 2, made.stdout
    assert "The lab grades accuracy on 'cifar10'" in made.stderr and "not found here" in made.stderr
    assert f"{lab / 'data' / 'cifar-10-batches-py'}  ([accuracy] data_root of {lab / 'lab.toml'}" in made.stderr
    assert "cnngrade gradescope --data-root DIR" in made.stderr
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".partial-*")) == []


def test_a_lab_s_dataset_goes_into_the_zip_and_run_autograder_grades_with_it(tmp_path):
    lab = _copy_lab(CIFAR, tmp_path / "cifar")
    data = write_cifar10_like(tmp_path / "given", train=50, test=20)
    made = _build(["--lab", str(lab), "--out", str(tmp_path / "autograder.zip"), "--data-root", str(data)],
                  tmp_path / "empty-cache")
    assert made.returncode == 0, made.stderr
    assert f"the zip holds the lab's dataset 'cifar10', from {data / 'cifar-10-batches-py'}" in made.stdout
    source = unpack(tmp_path / "autograder.zip", tmp_path / "autograder") / "source"
    batches = source / "data" / "cifar-10-batches-py"
    assert sorted(p.name for p in batches.iterdir()) == sorted(
        ["batches.meta", "test_batch", *(f"data_batch_{i}" for i in range(1, 6))])
    for ours, theirs in zip(load_dataset("cifar10", source / "data"), load_dataset("cifar10", data), strict=True):
        assert ours.classes == theirs.classes and (ours.images == theirs.images).all()
        assert (ours.labels == theirs.labels).all()
    command = gradescope.grade_command(source, tmp_path / "submission", tmp_path / "results.json")
    assert command[-3:] == ["--", "--data-root", str(source / "data")]


def test_fashion_mnist_from_the_user_cache_goes_into_the_zip(tmp_path):
    lab = _copy_lab(MLP, tmp_path / "mlp")
    toml = (lab / "lab.toml").read_text()
    (lab / "lab.toml").write_text(toml.replace('dataset = "mnist-bundled"', 'dataset = "fashion-mnist"')
                                  + "\n[accuracy.fashion-mnist]\nmin_accuracy = 0.82\nmin_trained_accuracy = 0.85\n")
    raw = tmp_path / "cache" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 30), ("t10k", 10)):
        write_idx(raw / f"{split}-images-idx3-ubyte", np.zeros((n, 28, 28), np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 10)
    made = _build(["--lab", str(lab), "--out", str(tmp_path / "autograder.zip")], tmp_path / "cache")
    assert made.returncode == 0, made.stderr
    assert "'fashion-mnist', from" in made.stdout and "(user cache)" in made.stdout
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        data = sorted(name for name in archive.namelist() if name.startswith("data/"))
    assert data == [f"data/FashionMNIST/raw/{s}-{k}" for s in ("t10k", "train")
                    for k in ("images-idx3-ubyte", "labels-idx1-ubyte")]


def test_lab4_on_the_bundled_mnist_adds_no_data(lab4_zip, tmp_path):
    assert not [name for name in lab4_zip.namelist() if name.startswith("data/")]
    command = gradescope.grade_command(tmp_path, tmp_path / "submission", tmp_path / "results.json")
    assert "--data-root" not in command


def test_a_grading_that_gives_no_score_fails_the_autograder_run(tmp_path, monkeypatch, capsys):
    """No results.json (Gradescope then shows a failed autograder run, which staff regrade), never a 0
    charged to the student for a fault of the grading side."""
    import cnngrade.gradescope as gradescope

    (tmp_path / "source" / "lab").mkdir(parents=True)
    shutil.copyfile(ROOT / "graders" / "lab.toml", tmp_path / "source" / "lab" / "lab.toml")
    shutil.copytree(ROOT / "reference", tmp_path / "submission")
    monkeypatch.setattr(gradescope, "grade_command", lambda *args: [sys.executable, "-c", "import sys; "
                                                                    "print('the sandbox broke', file=sys.stderr); "
                                                                    "sys.exit(3)"])
    assert gradescope.main(["--root", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "not graded because of a problem on the grading side, not in the student's work" in printed
    assert "exit status 3 and no score: the sandbox broke" in printed
    assert not (tmp_path / "results" / "results.json").exists()
