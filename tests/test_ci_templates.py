"""ci/: the GitHub Classroom workflow and the GitLab pipeline run commands that exist, on grader files
that exist, and each Classroom test is worth the points of the checks it runs on the reference; the
GitLab job that grades runs as its Docker executor would run it (a deployment test)."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.doc_blocks import copy_project, terminal_env
from tests.paths import ROOT
from tests.test_gradescope import set_up_and_grade_in_an_image  # noqa: F401 - registers the image's job
from tests.test_unprivileged_sandbox import container_or_skip, in_container

GRADERS = ROOT / "graders"


def checks_of(file: str) -> set[str]:
    """The check functions a grader file defines."""
    tree = ast.parse((GRADERS / file).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


@pytest.mark.grades("reference")
def test_each_classroom_test_is_worth_its_checks_points(corpus):
    workflow = yaml.safe_load((ROOT / "ci" / "github-classroom.yml").read_text())
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command-grader")]
    reporter = next(s for s in steps if "autograding-grading-reporter" in s.get("uses", ""))
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in graders]
    reference = corpus.grade("reference")
    covered: set[str] = set()
    for step in graders:
        words = shlex.split(step["with"]["command"])
        assert words[0] == "pytest" and "--isolated" in words and "--submission" in words
        files = [w.removeprefix("graders/") for w in words if w.startswith("graders/")]
        assert all((GRADERS / f).is_file() for f in files), files
        names = set().union(*(checks_of(f) for f in files))
        points = sum(c["max_score"] for name, c in reference.checks.items() if re.sub(r"\[.*", "", name) in names)
        assert step["with"]["max-score"] == points, (step["id"], points)
        covered |= names
    assert covered == set().union(*(checks_of(p.name) for p in GRADERS.glob("test_*.py")))  # every check


def test_the_classroom_workflow_sets_up_what_githubs_runner_lacks():
    """GitHub's Ubuntu runners restrict unprivileged user namespaces (AppArmor), without which no sandbox
    works as the runner's user: the install step lifts that, after a package index update, before any
    step grades; torch comes from the CPU wheel index (no GPU there)."""
    steps = yaml.safe_load((ROOT / "ci" / "github-classroom.yml").read_text())["jobs"]["run-autograding-tests"]["steps"]
    names = [s.get("name") for s in steps]
    install = steps[names.index("Install cnngrade")]["run"]
    assert install.index("apt-get update") < install.index("apt-get install")
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in install
    assert "--index-url https://download.pytorch.org/whl/cpu" in install.split("pip install --quiet -e .")[0]
    first_grading = min(i for i, s in enumerate(steps) if "autograding-command-grader" in s.get("uses", ""))
    assert names.index("Install cnngrade") < first_grading


def test_the_gitlab_pipeline_runs_the_commands_it_documents():
    pipeline = yaml.safe_load((ROOT / "ci" / "gitlab-ci.yml").read_text())
    assert pipeline["grade"]["artifacts"]["reports"]["junit"] == "report.xml"
    assert any("--junitxml=report.xml" in line for line in pipeline["grade"]["script"])
    assert pipeline["class"]["parallel"] == 4
    merge = " ".join(pipeline["gradebook"]["script"])
    assert "cnngrade merge grades-1 grades-2 grades-3 grades-4 --out grades" in merge and "cnngrade report" in merge


@pytest.mark.deploy
def test_the_gitlab_grade_job_grades_as_the_docker_executor_runs_it():
    """The `grade` job's script, line by line as written, run as GitLab's Docker executor runs it: as root
    without CAP_SYS_ADMIN, namespaces refused (tests/container.py), in a student's repository (a copy
    of the project, the student's files in submission/; the image's `pip install -e .` stands in for by
    this environment). The landlock tier grades: the reference gets full marks, the JUnit report and
    results.json are written."""
    container_or_skip()
    scratch = Path(tempfile.mkdtemp(prefix="cnngrade-gitlab-"))
    try:
        os.chmod(scratch, 0o755)  # as a CI checkout is: the sandboxed uid reads the repository's files
        repo = copy_project(scratch / "repo")
        shutil.copytree(ROOT / "reference", repo / "submission", ignore=shutil.ignore_patterns("__pycache__"))
        env = {k: v for k, v in terminal_env().items() if k != "CNNGRADE_SANDBOX"}
        env["PATH"] = f"{repo / '.venv' / 'bin'}:{env['PATH']}"
        for line in yaml.safe_load((ROOT / "ci" / "gitlab-ci.yml").read_text())["grade"]["script"]:
            proc = in_container(["bash", "-c", line], cwd=repo, env=env, timeout=900)
            assert proc.returncode == 0, f"`{line}`:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        results = json.loads((repo / "results.json").read_text())
        assert results["score"] == results["max_score"] > 150
        assert results["extra_data"]["backend"] == "isolated (landlock)"
        assert (repo / "report.xml").read_text().count("<testcase") >= len(results["tests"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.deploy
@pytest.mark.grades("gradescope_image")
def test_the_classroom_steps_grade_as_the_runners_ordinary_user(corpus):
    """Each grading step of the Classroom workflow, its command as written, run as GitHub's runner runs it:
    as an ordinary user (uid 65534 here), in a student's repository, with a Python installed outside
    /root (the Gradescope image's venv of the deployment tests: Debian's python3, a CPU torch, cnngrade;
    the workflow's own install step needs PyTorch's index, out of reach here). The fork tier sandboxes as
    that user: every step passes on the reference."""
    image = corpus.result("gradescope_image")
    if isinstance(image, str):
        pytest.skip(f"no environment outside /root to run as another user: {image}")
    steps = yaml.safe_load((ROOT / "ci" / "github-classroom.yml").read_text())["jobs"]["run-autograding-tests"]["steps"]
    commands = [s["with"]["command"] for s in steps if "autograding-command-grader" in s.get("uses", "")]
    scratch = Path(tempfile.mkdtemp(prefix="cnngrade-classroom-"))
    try:
        os.chmod(scratch, 0o755)
        repo = copy_project(scratch / "repo")
        shutil.copytree(ROOT / "reference", repo / "submission", ignore=shutil.ignore_patterns("__pycache__"))
        home = scratch / "home"
        home.mkdir(mode=0o777)
        os.chmod(home, 0o777)
        env = {k: v for k, v in terminal_env().items() if k != "CNNGRADE_SANDBOX"}
        env |= {"PATH": f"{image.root / 'venv' / 'bin'}:{env['PATH']}", "HOME": str(home), "USER": "runner"}
        user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        for command in commands:
            proc = subprocess.run([*user, "bash", "-c", command], cwd=repo, env=env, capture_output=True,
                                  text=True, timeout=900)
            assert proc.returncode == 0, f"`{command}`:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            assert "Backend: isolated (the submission runs in a sandbox: cnngrade's fork server" in proc.stdout or \
                "backend isolated (" in proc.stdout, proc.stdout[-3000:]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
