"""The documentation works as typed: every command block of README.md and docs/*.md runs, as written, in a
fresh copy of the project (tests/doc_blocks.py); the site builds; what cnngrade tells a user to type next
runs too.

The README's blocks are the background job ``docs_readme`` (``pytest tests -k readme`` runs them alone),
the other pages' the job ``docs_pages``.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from cnngrade.grader.invocation import Runner
from tests.corpus import background
from tests.doc_blocks import PAGES, SHELLS, Block, PageRun, blocks, fenced_blocks, page_name, run_page
from tests.paths import ROOT
from tests.test_feedback import SCREEN_LINES, assert_no_pytest_noise

README = ROOT / "README.md"
DOC_PAGES = [page for page in PAGES if page != README]

#: every command the documentation shows and the tests do not run: (page, command) -> words of the reason
#: its page gives. A new one must be added here: the reason is then read by whoever reviews it.
NOT_RUN = {
    ("README.md", "./run test"): "the test suite itself",
    ("docs/development.md", "./run test"): "run the test suite",
    ("docs/development.md", "./run test -k readme"): "run the test suite",
    ("docs/development.md", "./run test -m deploy"): "run the test suite",
    ("docs/development.md", ".ci/run"): "run the test suite",
    ("docs/development.md", "mkdocs serve"): "a server that runs until stopped",
    **{("docs/development.md", f"./run bench -k {name} -s"): "benchmarks take minutes"
       for name in ("breakdown", "class_graded", "batch_throughput", "under_load", "speed_under_load", "lab_reference",
                    "plugin_cost")},
    ("docs/students.md", "pytest graders/ --pdb"): "waits for you to type",
    ("docs/data.md", "cnngrade data fetch mnist"): "downloads from the package index",
    ("docs/instructors.md", "sbatch --array=1-3 --wait --wrap 'cnngrade batch submissions/ --out "
                            "grades-$SLURM_ARRAY_TASK_ID'"): "tests/test_slurm.py",
    ("docs/instructors.md", "cnngrade merge grades-1 grades-2 grades-3 --out grades"): "tests/test_slurm.py",
}


def _run_blocks(pages: list[Path]) -> list[Block]:
    """The blocks of ``pages`` whose commands (some of them) are run on their page."""
    return [block for page in pages for block in blocks(page) if block.runs]


def _check(block: Block, result: PageRun) -> None:
    """Each command of ``block`` that is run exited as the block says, leaving no process behind."""
    runs = result.runs[block.name]
    skipped = [ran.skipped for ran in runs if ran.skipped]
    if skipped:
        pytest.skip(skipped[0])
    assert [ran.command for ran in runs] == [c for c in block.commands if c.skip is None]
    for ran in runs:
        assert ran.status == ran.command.status, (
            f"{block.page}, line {ran.command.line}: `{ran.command.text}` exited with {ran.status}, not "
            f"{ran.command.status}:\n{ran.output[-4000:]}")
        assert not ran.stray, f"`{ran.command.text}` left processes running after it ended"


# --------------------------------------------------------------------------- the jobs


@background("docs_readme", cost=85)
def run_readme(scratch: Path, _warm: Runner) -> PageRun:
    """The README's commands, run in a fresh copy of the project."""
    return run_page(README, scratch)


@background("docs_pages", cost=18)
def run_doc_pages(scratch: Path, _warm: Runner) -> dict[str, PageRun]:
    """Each page of docs/'s commands, each page in a fresh copy of the project."""
    return {page_name(page): run_page(page, scratch / page.stem) for page in DOC_PAGES}


# --------------------------------------------------------------------------- every block runs


@pytest.mark.grades("docs_readme")
@pytest.mark.parametrize("block", _run_blocks([README]), ids=lambda block: block.name)
def test_readme_block_runs_as_written(block, corpus):
    _check(block, corpus.result("docs_readme"))


@pytest.mark.grades("docs_pages")
@pytest.mark.parametrize("block", _run_blocks(DOC_PAGES), ids=lambda block: block.name)
def test_docs_page_block_runs_as_written(block, corpus):
    _check(block, corpus.result("docs_pages")[block.page])


def test_every_command_not_run_is_listed_with_its_reason():
    annotated = {(block.page, command.bare): command.skip for page in PAGES for block in blocks(page)
                 for command in block.commands if command.skip is not None}
    assert set(annotated) == set(NOT_RUN), "the commands the pages say are not run differ from NOT_RUN"
    for key, words in NOT_RUN.items():
        assert words in annotated[key], f"{key}: the page's reason is now {annotated[key]!r}"


def test_a_block_same_as_another_pages_is_one_that_runs_there():
    def what(block: Block) -> tuple:
        """What the block says to type and expect, wherever it stands."""
        return block.text, [(c.text, c.status, c.skip) for c in block.commands], block.inputs

    for page in PAGES:
        for block in blocks(page):
            if block.same_as is None:
                continue
            twins = [other for other in blocks(ROOT / block.same_as) if other.runs and what(other) == what(block)]
            assert twins, f"{block.name} says it is the same as a block of {block.same_as} that runs; none is"


#: the languages of the pages' blocks that hold no command to run (the shell ones: doc_blocks.SHELLS)
NOT_COMMANDS = {"text", "python", "yaml", "toml", "json"}


def test_every_fenced_block_names_its_language():
    """A command block without a language, or with another shell's name, would not be run: each block
    says what it holds, a shell block as one that is run."""
    unknown = [f"{block.name} ({block.language or 'none'})" for page in PAGES for block in fenced_blocks(page)
               if block.language not in SHELLS | NOT_COMMANDS]
    assert not unknown, f"fenced blocks of no language the tests know (bash, text, python, ...): {unknown}"


def test_the_readme_shows_commands_that_run():
    """The README's screens are run, not only annotated: its commands for students and for instructors."""
    run = {command.bare for block in _run_blocks([README]) for command in block.commands if command.skip is None}
    assert {"./run grade", "pytest graders/", "cnngrade batch submissions/ --out grades/"} <= run


# --------------------------------------------------------------------------- what the commands did


@pytest.mark.grades("docs_readme", "reference")
def test_readme_run_grade_gives_the_reference_full_marks(corpus):
    """``./run grade`` as typed: sandboxed by default, the score of the reference's in-process grading, on
    one screen, the score last, no pytest noise (the lines ``./run`` itself prints are not the report's)."""
    ran = corpus.result("docs_readme").ran("./run grade")
    score = re.fullmatch(r"Score: (\d+)/(\d+)", ran.last_line)
    assert score and score[1] == score[2], ran.output[-3000:]
    backend = [line for line in ran.output.splitlines() if line.startswith("Backend:")]
    assert len(backend) == 1 and backend[0].startswith("Backend: isolated (the submission runs in a sandbox: "), \
        ran.output[-3000:]
    in_process = corpus.grade("reference")
    assert (int(score[1]), int(score[2])) == (in_process.score, in_process.max_score)
    report = [line for line in ran.output.rstrip().splitlines() if not line.startswith("cnngrade: ")]
    assert len(report) <= SCREEN_LINES, ran.output
    assert_no_pytest_noise(ran.output)


@pytest.mark.grades("docs_readme")
def test_readme_student_commands_end_with_the_score(corpus):
    result = corpus.result("docs_readme")
    graded = [ran for runs in result.runs.values() for ran in runs if ran.command.text.startswith("pytest graders/")]
    assert len(graded) == 3
    for ran in graded:
        assert re.fullmatch(r"Score: 0/\d+", ran.last_line), f"`{ran.command.text}`:\n{ran.output[-3000:]}"
    notebook = next(ran for ran in graded if "my_lab4.ipynb" in ran.command.text)
    assert "pooling.py" in notebook.output, "a notebook graded alone is told which parts it lacks"


@pytest.mark.grades("docs_readme")
def test_readme_class_is_graded_reported_and_packaged(corpus):
    result = corpus.result("docs_readme")
    batch = result.ran("cnngrade batch submissions/ --out grades/")
    with open(result.project / "grades" / "gradebook.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"ada", "bob", "carol"}, batch.output[-3000:]
    assert {row["status"] for row in rows.values()} == {"graded"}, batch.output[-3000:]
    assert rows["ada"]["score"] == rows["ada"]["max_score"] and rows["bob"]["score"] == rows["carol"]["score"] == "0"
    assert (result.project / "grades" / "ada" / "feedback.md").is_file()
    report = (result.project / "grades" / "report.html").read_text(encoding="utf-8")
    assert all(name in report for name in rows)
    with zipfile.ZipFile(result.project / "autograder.zip") as archive:
        assert {"setup.sh", "run_autograder"} <= set(archive.namelist())


@pytest.mark.grades("docs_pages")
def test_what_cnngrade_new_says_to_type_next_runs_as_typed(corpus):
    """``cnngrade new lenet5`` (docs/labs.md, run in a fresh copy of the project) ends by telling what to type
    next (``cnngrade ...`` in backquotes); the page goes on with exactly that, so it runs as told: on the new
    lab's empty reference, it says the lab is not ready yet (exit status 1), without a traceback."""
    result = corpus.result("docs_pages")["docs/labs.md"]
    assert (result.project / "lenet5" / "lab.toml").is_file()
    ran = [run for runs in result.runs.values() for run in runs]
    new = next(i for i, run in enumerate(ran) if run.command.bare == "cnngrade new lenet5")
    told = re.findall(r"`((?:cnngrade|pytest) [^`]+)`", ran[new].output)
    assert told, f"`cnngrade new` told no command to type next:\n{ran[new].output}"
    following = ran[new + 1:new + 1 + len(told)]
    assert [run.command.bare for run in following] == told, "docs/labs.md must go on with what `cnngrade new` tells"
    for run in following:
        assert run.status in (0, 1) and "Traceback" not in run.output, f"`{run.command.text}`:\n{run.output[-3000:]}"
    check = next(run for run in following if run.command.bare.startswith("cnngrade check-lab"))
    assert check.status == 1 and "is not ready" in check.output, check.output[-3000:]


#: defaults the pages state, as ``cnngrade batch --help`` words them: option -> its default
BATCH_DEFAULTS = {"--workers": "the CPUs, at most 4", "--per-process": "4", "--timeout": "1800"}


def test_the_pages_and_batch_help_agree_on_defaults():
    text = re.sub(r"\s+", " ", (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8"))
    help_text = re.sub(r"\s+", " ", subprocess.run([sys.executable, "-m", "cnngrade", "batch", "--help"], cwd=ROOT,
                                                   capture_output=True, text=True, check=True).stdout)
    for option, default in BATCH_DEFAULTS.items():
        said = rf"\(default:? {re.escape(default)}"
        assert re.search(rf"`{option}[^`]*`[^()]*{said}", text), f"docs/instructors.md: {option}'s default changed"
        assert re.search(rf"{option} [A-Z/]+ [^()]*{said}", help_text), f"`cnngrade batch --help`: {option} changed"


# --------------------------------------------------------------------------- the site


def test_the_site_builds_strictly_with_every_page_in_its_nav(tmp_path):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = {next(iter(entry.values())) for entry in config["nav"]}
    assert listed == {page.name for page in DOC_PAGES}, "mkdocs.yml's nav must list every page of docs/"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site"),
                           "--config-file", str(ROOT / "mkdocs.yml")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "instructors" / "index.html").is_file()


def test_the_readmes_links_lead_to_files_and_headings():
    """README.md is outside the site (mkdocs checks the pages' links): its links to docs/ must resolve."""
    text = README.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        assert (ROOT / path).exists(), f"README.md links to {path}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(encoding="utf-8"), flags=re.MULTILINE)
            slugs = {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", h.lower()).strip()) for h in headings}
            assert anchor in slugs, f"README.md links to {target}: no such heading"
