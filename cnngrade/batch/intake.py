"""One student per entry of a submissions folder, unpacked into a clean folder and checked before grading.

An entry is a folder, a ``.py``, a ``.ipynb`` or a ``.zip`` of those: the layout of Gradescope's "Export
Submissions" (``submission_<id>/`` folders beside ``submission_metadata.yml``, which is not an entry) and
of GitHub Classroom's ``classroom clone`` (one repository per student; ``.git`` is left out). The
student's name is the entry's name without its ``.py`` / ``.ipynb`` / ``.zip`` suffix. Hidden entries
(``.name``) are not students.

:func:`stage` copies (or unpacks) an entry into a folder of its own and checks it; what cannot be graded
raises :class:`Rejected` with a reason a person can act on: an empty folder; a zip with ``../`` or
absolute paths, symbolic links, or that unpacks to more than the limits allow (a zip bomb: its size,
or its compression ratio); a file over the size limit; a ``.py`` file that is not UTF-8; a notebook that
is not JSON; two notebooks where the grader would have to guess which one is meant; nothing to grade.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat

from cnngrade.lab.parts import Parts

__all__ = ["Entry", "Limits", "Rejected", "list_entries", "stage"]

#: entries of a submissions folder that are not students: Gradescope's export manifest
NOT_STUDENTS = ("submission_metadata.yml",)
SUFFIXES = (".py", ".ipynb", ".zip")
#: folders of a student's entry that are not part of the submission
SKIPPED_DIRS = (".git", "__pycache__", ".ipynb_checkpoints", "__MACOSX")
MB = 1_000_000


class Rejected(Exception):
    """A submission that cannot be graded; ``str()`` is the reason, for the gradebook and the student."""


@dataclass(frozen=True)
class Limits:
    """What one student's submission may hold: ``max_file`` bytes per file, ``max_total`` bytes in all
    (unpacked), ``max_files`` files, and, for a zip, a compression ratio of at most ``max_ratio`` (a
    larger one, on a member over 1 MB, is a zip bomb's)."""

    max_file: int = 100 * MB
    max_total: int = 200 * MB
    max_files: int = 2000
    max_ratio: int = 200


@dataclass(frozen=True)
class Entry:
    """A student: ``name`` (as given), the entry's ``path``, and ``slug``, the name of their output folder
    (the name itself where it is a plain file name, else a safe form of it with a short hash)."""

    name: str
    path: Path

    @property
    def slug(self) -> str:
        return slug_of(self.name)


def slug_of(name: str) -> str:
    """A folder name for student ``name``: ``name`` where it is made of ``A-Z a-z 0-9 . _ -`` (not starting
    with a dot), else those characters kept, the rest ``_``, and ``-`` + 8 hex digits of its sha256 (two
    names never share a slug)."""
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".") or "student"
    if plain == name:
        return name
    return f"{plain[:60]}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


def list_entries(submissions: Path) -> list[Entry]:
    """The students of the folder ``submissions``, sorted by name. Two entries with the same name once
    their suffix is dropped (``ada.py`` and ``ada.zip``) keep their full names."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"{submissions}: no such folder" if not submissions.exists()
                                else f"{submissions} is not a folder (one entry per student goes in a folder)")
    paths = sorted(p for p in submissions.iterdir() if not p.name.startswith(".") and p.name not in NOT_STUDENTS)
    names = [p.stem if p.suffix in SUFFIXES and not p.is_dir() else p.name for p in paths]
    entries = [Entry(name if names.count(name) == 1 else path.name, path)
               for name, path in zip(names, paths, strict=True)]
    return sorted(entries, key=lambda entry: entry.name)


def stage(entry: Entry, into: Path, parts: Parts, limits: Limits = Limits()) -> Path:
    """Copy or unpack ``entry`` into the empty folder ``into`` and check it (see the module's docstring);
    what to grade there (the folder, or its one .py or .ipynb). Raises :class:`Rejected` with the reason
    it cannot be graded."""
    path = entry.path
    if path.is_symlink():
        raise Rejected(f"{path.name} is a symbolic link, not a submission")
    if path.is_dir():
        _copy_dir(path, into, limits)
    elif path.suffix == ".zip":
        _unzip(path, into, limits)
    elif path.suffix in (".py", ".ipynb") and path.is_file():
        _check_size(path.name, path.stat().st_size, limits)
        shutil.copyfile(path, into / path.name)
    else:
        raise Rejected(f"{path.name} is not a folder, a .py file, a .ipynb notebook or a .zip of those")
    root = _single_folder(into)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if not files:
        raise Rejected(f"the folder {path.name} is empty" if path.is_dir() else f"{path.name} holds no file")
    for file in files:
        _check_text(file, root)
    return _gradable(root, parts, path.name)


def _check_size(name: str, size: int, limits: Limits) -> None:
    if size > limits.max_file:
        raise Rejected(f"{name} is {size / MB:.1f} MB; files over {limits.max_file / MB:g} MB are not accepted")


def _walk(folder: Path) -> Iterator[Path]:
    """Every entry under ``folder`` but the skipped folders, without following symbolic links."""
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(dirs + files):
            yield Path(top, name)


def _copy_dir(source: Path, into: Path, limits: Limits) -> None:
    total, count = 0, 0
    for path in _walk(source):
        relative = path.relative_to(source)
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise Rejected(f"{source.name}/{relative} is a symbolic link; submit the file itself")
        if stat.S_ISDIR(mode):
            (into / relative).mkdir()
            continue
        if not stat.S_ISREG(mode):
            raise Rejected(f"{source.name}/{relative} is not a regular file")
        size = path.lstat().st_size
        _check_size(f"{source.name}/{relative}", size, limits)
        total, count = total + size, count + 1
        if total > limits.max_total or count > limits.max_files:
            raise Rejected(f"{source.name} holds more than {limits.max_total / MB:g} MB or "
                           f"{limits.max_files} files; submit the lab's files only")
        shutil.copyfile(path, into / relative)


def _unzip(archive: Path, into: Path, limits: Limits) -> None:
    """Unpack ``archive`` into ``into``, refusing unsafe members before writing any, and stopping any
    member that unpacks to more than it declared."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not _skipped(m.filename)]
            _check_members(archive.name, members, limits)
            for member in members:
                target = into.joinpath(*PurePosixPath(member.filename).parts)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                _extract(zipped, member, target, archive.name, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise Rejected(f"{archive.name} is not a zip file that can be read ({exc})") from None
    except RuntimeError as exc:  # an encrypted member
        raise Rejected(f"{archive.name}: {exc}") from None


def _skipped(name: str) -> bool:
    return any(part in SKIPPED_DIRS for part in PurePosixPath(name).parts)


def _check_members(name: str, members: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(members) > limits.max_files:
        raise Rejected(f"{name} holds {len(members)} entries; at most {limits.max_files} are accepted")
    total = 0
    for member in members:
        path = PurePosixPath(member.filename.replace("\\", "/"))
        if path.is_absolute() or re.match(r"^[A-Za-z]:", member.filename) or ".." in path.parts:
            raise Rejected(f"{name} holds {member.filename!r}, a path outside the archive's folder; "
                           "zip the lab's files only")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise Rejected(f"{name} holds {member.filename!r}, a symbolic link; zip the file itself")
        _check_size(f"{name}: {member.filename}", member.file_size, limits)
        if member.file_size > MB and member.file_size > limits.max_ratio * max(member.compress_size, 1):
            raise Rejected(f"{name}: {member.filename} unpacks {member.file_size / max(member.compress_size, 1):,.0f} "
                           f"times larger than it is stored (a zip bomb?); at most {limits.max_ratio} times is "
                           "accepted")
        total += member.file_size
    if total > limits.max_total:
        raise Rejected(f"{name} unpacks to {total / MB:.1f} MB; at most {limits.max_total / MB:g} MB is accepted")


def _extract(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, name: str, limits: Limits) -> None:
    """Copy one member, in chunks, failing past its declared size (a forged header) or the limit."""
    allowed = min(member.file_size, limits.max_file)
    written = 0
    with zipped.open(member) as source, open(target, "wb") as sink:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > allowed:
                raise Rejected(f"{name}: {member.filename} unpacks to more than it declares; not accepted")
            sink.write(chunk)


def _single_folder(root: Path) -> Path:
    """``root``, or the one folder it holds when it holds nothing else (a zip of a folder)."""
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return _single_folder(entries[0])
    return root


def _check_text(file: Path, root: Path) -> None:
    relative = file.relative_to(root).as_posix()
    if file.suffix == ".py":
        try:
            file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(f"{relative} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position "
                           f"{exc.start}); save it as UTF-8") from None
    elif file.suffix == ".ipynb":
        try:
            nbformat.read(file, as_version=nbformat.NO_CONVERT)
        except Exception as exc:  # nbformat's NotJSONError, a bad structure, or bytes that are not UTF-8
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise Rejected(f"{relative} is not a Jupyter notebook that can be read ({reason})") from None


def _gradable(root: Path, parts: Parts, name: str) -> Path:
    """What to grade in ``root``: the folder where it holds a file of the lab's (``<part>.py``) or
    several candidates, else its one .py or .ipynb (a file of any name is graded on what it defines).
    Refused: nothing to grade, or notebooks the grader would have to choose between."""
    top = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in (".py", ".ipynb"))
    notebooks = [p.name for p in top if p.suffix == ".ipynb"]
    lacking = [part for part in parts if not (root / f"{part}.py").is_file()]
    if len(notebooks) > 1 and lacking:
        raise Rejected(f"{name} holds {len(notebooks)} notebooks ({', '.join(notebooks)}) and the grader cannot tell "
                       f"which one to grade; keep one, or submit {', '.join(f'{p}.py' for p in lacking)}")
    if not top:
        raise Rejected(f"{name} holds no .py file or notebook at its top level")
    if len(top) == 1 and len(lacking) == len(list(parts)):
        return top[0]
    return root
