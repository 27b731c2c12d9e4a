"""A generated class for ``cnngrade batch``: correct, blank, buggy and hostile submissions in every form a
submissions folder holds (folders, single .py files, notebooks, zips, odd names), and every kind of bad
input, each with the reason its gradebook row must give.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

from tests.paths import ROOT, TESTS

REFERENCE = ROOT / "reference"
TEMPLATES = ROOT / "student_templates"
BUGGY = TESTS / "buggy"
HOSTILE = TESTS / "hostile"
#: the checks a class is graded on in the tests (cheap ones: the Net's; one that softmax fails)
CHECKS = ("-k", "test_net_builds or test_output_shape or test_log_softmax or test_parameter_count",
          "--call-timeout=3")
#: each rejected student: words its row's reason must hold
REJECTED = {
    "empty": "the folder empty is empty",
    "dotdot": "'../lab4_cnn.py', a path outside the archive's folder",
    "absolute": "'/tmp/lab4_cnn.py', a path outside the archive's folder",
    "zipped_link": "'lab4_cnn.py', a symbolic link",
    "bomb": "times larger than it is stored (a zip bomb?)",
    "broken_notebook": "broken_notebook.ipynb is not a Jupyter notebook that can be read",
    "latin1": "lab4_cnn.py is not UTF-8 text (byte 0xe9",
    "two_notebooks": "holds 2 notebooks (a.ipynb, b.ipynb) and the grader cannot tell which one to grade",
    "huge": "model.pt is 200.0 MB; files over 100 MB are not accepted",
    "notes.txt": "notes.txt is not a folder, a .py file, a .ipynb notebook or a .zip of those",
    "linked_file": "lab4_cnn.py is a symbolic link; submit the file itself",
    "not_a_zip": "not_a_zip.zip is not a zip file that can be read",
    "nothing_to_grade": "holds no .py file or notebook at its top level",
    "windows_path": "'C:\\\\temp\\\\lab4_cnn.py', a path outside the archive's folder",
    "only_macosx": "only_macosx.zip holds no file",
    "report.pdf": "report.pdf is not a folder, a .py file, a .ipynb notebook or a .zip of those",
    "pycache_only": "the folder pycache_only is empty",
    "cp1252": "cp1252.py is not UTF-8 text (byte 0x93",
}


def _copy(source: Path, target: Path) -> Path:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copyfile(source, target)
    return target


def _zip(target: Path, members: dict[str, bytes], folder: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(folder + name, data)
    return target


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.py"))}


def gradable(root: Path, only: set[str] | None = None) -> dict[str, Path]:
    """Write the gradable students into ``root`` (those named in ``only``, when given); each student's
    name -> the source it was made from (graded alone, that source must score what its row says)."""
    notebook = TESTS / "buggy_notebooks" / "softmax.ipynb"
    students: dict[str, tuple[Path, Path]] = {  # name -> (source, the entry made from it)
        "ada": (REFERENCE, root / "ada"),
        "Zoë Ünal": (REFERENCE, root / "Zoë Ünal"),
        "o'hara; rm -rf $HOME": (BUGGY / "softmax", root / "o'hara; rm -rf $HOME"),
        "blank": (TEMPLATES, root / "blank"),
        "softmax": (BUGGY / "softmax", root / "softmax.py"),
        "notebook": (notebook, root / "notebook.ipynb"),
        "zipped": (REFERENCE, root / "zipped.zip"),
        "ada.py": (REFERENCE, root / "ada.py"),  # beside the folder ada/: both keep their full names
        **{bug: (BUGGY / bug, root / bug) for bug in ("raw_logits", "frozen_layer", "log_softmax_dim0")},
        **{attack: (HOSTILE / attack, root / attack) for attack in ("exit_at_import", "forge_results")},
    }
    made = {}
    for name, (source, entry) in students.items():
        if only is not None and name not in only:
            continue
        if entry.suffix == ".zip":
            _zip(entry, _files(source), folder="lab4/")
        elif entry.suffix == ".py":
            _copy(source / "lab4_cnn.py", entry)
        else:
            _copy(notebook if entry.suffix == ".ipynb" else source, entry)
        made[name] = source
    return made


def rejected(root: Path) -> None:
    """Write the students of :data:`REJECTED` into ``root``."""
    (root / "empty").mkdir()
    net = (BUGGY / "softmax" / "lab4_cnn.py").read_bytes()
    _zip(root / "dotdot.zip", {"../lab4_cnn.py": net})
    _zip(root / "absolute.zip", {"/tmp/lab4_cnn.py": net})
    with zipfile.ZipFile(root / "zipped_link.zip", "w") as archive:
        link = zipfile.ZipInfo("lab4_cnn.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lab4_cnn.py", b"#" * (20 * 1024 * 1024))
    (root / "broken_notebook.ipynb").write_text("{ this is not json")
    (root / "latin1").mkdir()
    (root / "latin1" / "lab4_cnn.py").write_bytes("# écrit en Latin-1\n".encode("latin-1") + net)
    (root / "two_notebooks").mkdir()
    for name in ("a.ipynb", "b.ipynb"):
        shutil.copyfile(TESTS / "buggy_notebooks" / "softmax.ipynb", root / "two_notebooks" / name)
    (root / "huge").mkdir()
    shutil.copyfile(BUGGY / "softmax" / "lab4_cnn.py", root / "huge" / "lab4_cnn.py")
    with open(root / "huge" / "model.pt", "wb") as sparse:
        sparse.truncate(200 * 1000 * 1000)  # a 200 MB file that takes no disk
    (root / "notes.txt").write_text("not a submission")
    (root / "linked_file").mkdir()
    os.symlink(BUGGY / "softmax" / "lab4_cnn.py", root / "linked_file" / "lab4_cnn.py")
    (root / "not_a_zip.zip").write_bytes(b"PK\x03\x04 but nothing after")
    (root / "nothing_to_grade").mkdir()
    (root / "nothing_to_grade" / "README.md").write_text("I forgot the code")
    _zip(root / "windows_path.zip", {"C:\\temp\\lab4_cnn.py": net})
    _zip(root / "only_macosx.zip", {"__MACOSX/._lab4_cnn.py": b"resource fork"})
    (root / "report.pdf").write_bytes(b"%PDF-1.4 not a submission")
    (root / "pycache_only" / "__pycache__").mkdir(parents=True)
    (root / "pycache_only" / "__pycache__" / "lab4_cnn.cpython-311.pyc").write_bytes(b"\0" * 16)
    (root / "cp1252.py").write_bytes("# \u201cquoted\u201d\n".encode("cp1252") + net)


def write_class(root: Path) -> dict[str, Path]:
    """The whole class (see the module's docstring) in ``root``; the gradable students' sources."""
    root.mkdir(parents=True, exist_ok=True)
    made = gradable(root)
    rejected(root)
    (root / "submission_metadata.yml").write_text("# Gradescope's export manifest: not a student\n")
    return made
