"""The command blocks of cnngrade's documentation, and running them as a reader types them.

:func:`blocks` finds every fenced ``bash``, ``sh`` or ``console`` block of a Markdown page, with what the
HTML comments right before it say (``<!-- docs: ... -->``, described in docs/development.md):
the inputs it needs, its exit statuses, the commands not run and why. :func:`run_page` runs a page's
commands, in order, in a fresh copy of the project, each as bash runs a line typed in a terminal that
has not activated the environment: ``source``, ``export`` and ``cd`` carry over to later commands.

``python -m tests.doc_blocks [PAGE ...]`` runs pages (default: all) and prints each command's time.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.paths import ROOT

#: the pages whose command blocks are run: the README and the documentation site's pages
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SHELLS = {"bash", "sh", "shell", "console"}
#: the longest a documented command may take
TIMEOUT = 600
#: commands that change only the terminal: a block run on another page still runs them on this one
TERMINAL = {"source", ".", "export", "cd"}

_COMMENT = re.compile(r"^\s*<!--\s*docs:\s*(?P<body>.*?)\s*-->\s*$")
_DIRECTIVE = re.compile(r"^(?P<verb>not run|exit (?P<status>\d+)|given (?P<input>[^\s:`]+)|same as (?P<page>[^\s:`]+))"
                        r"(?:\s+`(?P<command>[^`]+)`)?(?::\s*(?P<why>.+))?$")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")


class DocError(ValueError):
    """A page's block or ``docs:`` comment that cannot be understood."""


@dataclass(frozen=True)
class Command:
    """One command of a block: its text as written (a continued line joined), its line in the page, the
    exit status it must end with, and why it is not run (None: it is)."""

    text: str
    line: int
    status: int = 0
    skip: str | None = None

    @property
    def bare(self) -> str:
        """The command without its trailing ``# comment``."""
        return re.sub(r"\s+#\s.*$", "", self.text)


@dataclass(frozen=True)
class Block:
    """A fenced block of a page: ``language`` is its info string; ``commands`` are empty unless it is a
    shell block. ``inputs`` name what the test makes before it (:data:`INPUTS`); ``same_as`` is the page
    holding the same block, whose run stands for this one."""

    page: str
    line: int
    language: str
    text: str
    commands: tuple[Command, ...] = ()
    inputs: tuple[str, ...] = ()
    same_as: str | None = None

    @property
    def name(self) -> str:
        """``PAGE:LINE`` of its opening fence."""
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        """Whether :func:`run_page` runs any command of it."""
        return self.same_as is None and any(c.skip is None for c in self.commands)


def page_name(page: Path) -> str:
    """The page's path relative to the project (``docs/labs.md``); a page elsewhere: its full path."""
    page = page.resolve()
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.as_posix()


def fenced_blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, shell or not, with the ``docs:`` comments before it applied."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    pending: list[tuple[int, str]] = []  # docs: comments waiting for their block
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        comment = _COMMENT.match(line)
        if comment:
            pending.append((number, comment["body"]))
            continue
        fence = _FENCE.match(line)
        if not fence:
            if line.strip() and pending:
                raise DocError(f"{page_name(page)}:{pending[0][0]}: a docs: comment must come right before a block")
            continue
        start, indent, closing = number, len(fence["indent"]), fence["fence"]
        body: list[str] = []
        while number < len(lines) and not lines[number].strip().startswith(closing):
            text = lines[number]
            body.append(text[indent:] if not indent or text[:indent].isspace() else text.lstrip())
            number += 1
        if number == len(lines):
            raise DocError(f"{page_name(page)}:{start}: the block is not closed")
        number += 1
        found.append(_block(page_name(page), start, fence["info"].lower(), body, pending))
        pending = []
    if pending:
        raise DocError(f"{page_name(page)}:{pending[0][0]}: a docs: comment must come right before a block")
    return found


def blocks(page: Path) -> list[Block]:
    """The shell blocks of ``page``: those whose commands a reader types."""
    return [block for block in fenced_blocks(page) if block.language in SHELLS]


def _commands(language: str, body: list[str], first: int) -> list[tuple[int, str]]:
    """(line, text) of each command of a block whose first line is line ``first`` of its page: every line
    but blank and comment ones (a ``console`` block: its ``$ `` lines); a line ending in ``\\`` goes on."""
    if language not in SHELLS:
        return []
    commands: list[tuple[int, str]] = []
    continued: tuple[int, str] | None = None
    for number, raw in enumerate(body, start=first):
        text = raw.strip()
        if continued is not None:
            text = continued[1][:-1].rstrip() + " " + (text.removeprefix("> ") if language == "console" else text)
            number = continued[0]
        elif language == "console":
            if not text.startswith("$ "):
                continue
            text = text[2:].strip()
        elif not text or text.startswith("#"):
            continue
        continued = (number, text) if text.endswith("\\") else None
        if continued is None:
            commands.append((number, text))
    if continued is not None:
        commands.append((continued[0], continued[1][:-1].rstrip()))
    return commands


def _block(page: str, line: int, language: str, body: list[str], comments: list[tuple[int, str]]) -> Block:
    """The block opened at ``line`` of ``page``, its ``docs:`` comments applied."""
    commands = [Command(text, number) for number, text in _commands(language, body, line + 1)]
    inputs: list[str] = []
    same_as = None
    for number, comment in comments:
        directive = _DIRECTIVE.match(comment)
        if not directive or (directive["verb"] == "not run" and not directive["why"]):
            raise DocError(f"{page}:{number}: `docs: {comment}` is not one of: not run[ `COMMAND`]: WHY, "
                           "exit N[ `COMMAND`][: WHY], given NAME[: WHAT], same as PAGE")
        if language not in SHELLS:
            raise DocError(f"{page}:{number}: a docs: comment before a block that is not a shell block")
        if directive["input"]:
            if directive["input"] not in INPUTS:
                raise DocError(f"{page}:{number}: no input named {directive['input']} (known: {sorted(INPUTS)})")
            inputs.append(directive["input"])
        elif directive["page"]:
            same_as = directive["page"]
        else:
            target = directive["command"]
            chosen = [i for i, c in enumerate(commands) if target is None or c.text.startswith(target)]
            if not chosen:
                raise DocError(f"{page}:{number}: no command of the block starts with `{target}`")
            for i in chosen:
                if directive["status"] is not None:
                    commands[i] = replace(commands[i], status=int(directive["status"]))
                else:
                    commands[i] = replace(commands[i], skip=directive["why"])
    return Block(page, line, language, "\n".join(body), tuple(commands), tuple(inputs), same_as)


# --------------------------------------------------------------------------- inputs the blocks need


def _copy_py(source: Path, target: Path) -> None:
    target.mkdir()
    for path in sorted(source.glob("*.py")):
        shutil.copy2(path, target / path.name)


def class_of_three(folder: Path) -> None:
    """``submissions/``: ``ada/`` the reference's .py files (a full-marks student), ``bob.ipynb`` the
    template notebook (handed in untouched), ``carol.zip`` the templates' .py files zipped."""
    submissions = folder / "submissions"
    submissions.mkdir()
    _copy_py(folder / "reference", submissions / "ada")
    shutil.copy2(folder / "student_templates" / "lab4.ipynb", submissions / "bob.ipynb")
    with zipfile.ZipFile(submissions / "carol.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((folder / "student_templates").glob("*.py")):
            archive.write(path, path.name)


def work_just_begun(folder: Path) -> None:
    """``my_work/``: a copy of the templates' .py files (a student who has just begun)."""
    _copy_py(folder / "student_templates", folder / "my_work")


def template_notebook(folder: Path) -> None:
    """``my_lab4.ipynb``: the template notebook."""
    shutil.copy2(folder / "student_templates" / "lab4.ipynb", folder / "my_lab4.ipynb")


#: what a block's ``given NAME`` makes, in the folder its commands run in
INPUTS: dict[str, Callable[[Path], None]] = {
    "submissions/": class_of_three,
    "my_work/": work_just_begun,
    "my_lab4.ipynb": template_notebook,
}


# --------------------------------------------------------------------------- running them


def environment() -> Path:
    """The project's virtual environment (``.venv``, its real location), else this interpreter's."""
    venv = ROOT / ".venv"
    return venv.resolve() if venv.is_dir() else Path(sys.prefix).resolve()


def terminal_env() -> dict[str, str]:
    """This process's environment as a new terminal has it: no virtual environment activated (none of
    its ``bin`` folders on PATH), no pytest or Python path variables, no sandbox chosen (a test beside may
    have chosen one for its own gradings). The suite's thread settings stay."""
    venv_bins = {os.path.realpath(p) for p in (environment() / "bin", Path(sys.prefix) / "bin", ROOT / ".venv" / "bin")}
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PYTEST_") and name not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME",
                                                               "CNNGRADE_VENV", "CNNGRADE_SANDBOX", "PYTHON",
                                                               "PS1", "_"}}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) not in venv_bins]
    env["PATH"] = os.pathsep.join(path)
    return env


def copy_project(target: Path) -> Path:
    """A fresh copy of the project in ``target``: the files git lists (tracked, and untracked but not
    ignored: what a commit would hold), with their times, and ``.venv`` a link to :func:`environment`.
    The copy's pyproject.toml is made no newer than the environment's install stamp, so that ``./run``
    finds the environment up to date (it must never install the shared environment from the copy)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() or source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name, follow_symlinks=False)
    (target / ".venv").symlink_to(environment(), target_is_directory=True)
    stamp = installed_stamp()
    if stamp is not None:
        installed = stamp.stat().st_mtime
        pyproject = target / "pyproject.toml"
        if pyproject.stat().st_mtime >= installed:
            os.utime(pyproject, (installed - 1, installed - 1))
    return target


def installed_stamp() -> Path | None:
    """``./run``'s stamp of an up-to-date environment, where the environment has one."""
    stamp = environment() / ".cnngrade-installed"
    return stamp if stamp.is_file() else None


@dataclass
class Ran:
    """A command as run: its exit status, stdout and stderr together, and seconds; ``skipped`` says why it
    could not run here (``status`` is then None); ``stray`` whether processes it started outlived it."""

    command: Command
    status: int | None
    output: str
    seconds: float
    skipped: str | None = None
    stray: bool = False

    @property
    def last_line(self) -> str:
        lines = self.output.rstrip().splitlines()
        return lines[-1] if lines else ""


@dataclass
class Shell:
    """A terminal's state between commands: its folder and environment."""

    cwd: Path
    env: dict[str, str] = field(default_factory=terminal_env)

    def run(self, command: Command, timeout: float = TIMEOUT) -> Ran:
        """Run ``command`` as bash runs a typed line, here; keep the folder and environment it leaves."""
        with tempfile.TemporaryDirectory(prefix="cnngrade-docs-shell-") as state:
            script = (f"trap 'pwd > {shlex.quote(state)}/pwd; env -0 > {shlex.quote(state)}/env' EXIT\n"
                      f"{command.text}\n")
            output = Path(state) / "output"  # a file, not a pipe: a process left behind cannot hold it open
            started = time.monotonic()
            with open(output, "wb") as sink:
                proc = subprocess.Popen(["bash", "-c", script], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
                try:
                    status: int | None = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _kill_group(proc.pid)
                    proc.wait()
                    status = None
            seconds = time.monotonic() - started
            stray = _kill_group(proc.pid, grace=0.5)
            text = output.read_bytes().decode(errors="replace")
            if status is None:
                text += f"\n[tests.doc_blocks: killed after {timeout} s]"
            self._keep_state(Path(state))
        return Ran(command, status, text, seconds, stray=stray)

    def _keep_state(self, state: Path) -> None:
        if (state / "env").is_file():
            pairs = (item.split("=", 1) for item in (state / "env").read_bytes().decode(errors="replace").split("\0"))
            self.env = {name: value for name, value in (p for p in pairs if len(p) == 2)
                        if name not in {"_", "SHLVL", "PWD", "OLDPWD"}}
        if (state / "pwd").is_file():
            self.cwd = Path((state / "pwd").read_text().strip())


def _kill_group(pgid: int, grace: float = 0.0) -> bool:
    """Kill what is left of the process group ``pgid`` (after ``grace`` seconds); whether anything was."""
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


@dataclass
class PageRun:
    """A page's commands as run: the project copy they ran in (kept until its folder is removed) and each
    run block's :class:`Ran` list, by block name."""

    page: str
    project: Path
    runs: dict[str, list[Ran]]

    def ran(self, command: str) -> Ran:
        """The run of ``command`` (as written, without its comment; the first, where the page has several)."""
        for runs in self.runs.values():
            for ran in runs:
                if ran.command.bare == command:
                    return ran
        raise KeyError(f"{self.page} ran no command `{command}`")


def run_page(page: Path, folder: Path) -> PageRun:
    """Run ``page``'s commands in order, in a fresh copy of the project made in ``folder`` (which must not
    exist, or be empty), making each block's inputs first. Of a block ``same as`` another page's, only the
    commands that change the terminal (:data:`TERMINAL`) run here."""
    project = folder / "project"
    page_blocks = blocks(page)
    runs: dict[str, list[Ran]] = {}
    if not any(block.runs for block in page_blocks):
        return PageRun(page_name(page), project, runs)  # nothing to run: no copy
    shell = Shell(copy_project(project))
    stamp = installed_stamp()
    for block in page_blocks:
        if block.same_as is not None:  # run on its page; what it does to the terminal still holds here
            for command in block.commands:
                if command.skip is None and command.text.split()[0] in TERMINAL:
                    shell.run(command)
            continue
        if not block.runs:
            continue
        for name in block.inputs:
            if not (shell.cwd / name).exists():
                INPUTS[name](shell.cwd)
        runs[block.name] = []
        for command in block.commands:
            if command.skip is not None:
                continue
            if stamp is None and command.text.startswith("./run"):
                runs[block.name].append(Ran(command, None, "", 0.0, skipped=(
                    f"{environment()} was not made by ./run (it has no .cnngrade-installed), so ./run would "
                    "install cnngrade into it from the copy")))
                continue
            runs[block.name].append(shell.run(command))
    return PageRun(page_name(page), project, runs)


def main(argv: list[str]) -> int:
    """Run the pages named (all by default) and print each command's status and time."""
    pages = [Path(arg).resolve() for arg in argv] or list(PAGES)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="cnngrade-docs-") as scratch:
        for page in pages:
            started = time.monotonic()
            result = run_page(page, Path(scratch) / page_name(page).replace("/", "-"))
            for name, runs in result.runs.items():
                for ran in runs:
                    ok = ran.status == ran.command.status and not ran.stray
                    failed += not ok
                    verdict = ran.skipped or ("ok" if ok else f"FAILED: exit {ran.status}, expected "
                                                              f"{ran.command.status}{', left processes' * ran.stray}")
                    print(f"{ran.seconds:6.1f} s  {name}  {ran.command.bare}  [{verdict}]", flush=True)
            print(f"{time.monotonic() - started:6.1f} s  {result.page} in all", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
