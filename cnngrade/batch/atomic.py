"""Files and folders that appear whole or not at all, whenever the process writing them is killed.

A file is written to a temporary name in its own folder, flushed to disk (``fsync``), then renamed
over its final name (``rename`` is atomic within a file system). A folder is built under a temporary
name and renamed into place the same way; one that replaces an older folder first moves the old one
aside, so a reader sees the old folder, no folder, or the new one, never a mix. Temporary names start
with :data:`PARTIAL_PREFIX`: what a killed writer leaves is recognisable, and :func:`sweep` removes it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["PARTIAL_PREFIX", "new_dir", "replace_dir", "sweep", "write_bytes", "write_text"]

#: the start of every temporary name this module makes
PARTIAL_PREFIX = ".partial-"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: files and folders get the modes an ordinary ``open`` / ``mkdir`` would give them (not mkstemp's 0600)
FILE_MODE, DIR_MODE = 0o666 & ~_umask(), 0o777 & ~_umask()


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a reader sees the old file, or the new one whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=PARTIAL_PREFIX, dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)
    return path


def write_text(path: Path, text: str) -> Path:
    """:func:`write_bytes` of ``text`` in UTF-8."""
    return write_bytes(path, text.encode("utf-8"))


def new_dir(parent: Path) -> Path:
    """A fresh temporary folder in ``parent``, to fill, then move into place with :func:`replace_dir`."""
    parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=parent))
    built.chmod(DIR_MODE)
    return built


def replace_dir(built: Path, path: Path) -> Path:
    """Move the folder ``built`` (same file system) to ``path``, replacing a folder already there: the
    old one is renamed aside first, then removed once the new one is in place."""
    for file in built.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=path.parent))
        os.replace(path, old / path.name)
    os.replace(built, path)
    _sync_dir(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path


def sweep(folder: Path) -> int:
    """Remove what killed writers left in ``folder`` (entries named :data:`PARTIAL_PREFIX`...); how many."""
    count = 0
    for entry in folder.glob(PARTIAL_PREFIX + "*") if folder.is_dir() else ():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        count += 1
    return count


def _sync_dir(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
