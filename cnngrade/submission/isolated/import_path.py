"""The grader's import path, as the sandbox shows it to the child: ``sys.path``, whatever put each entry there.

The child runs the grader's interpreter as ``python -s -B -P`` with an environment of its own, so by
itself it finds only the installation's directories (the standard library, the environment's
site-packages, and the folders their ``.pth`` files name). Packages found another way live elsewhere:
an entry of ``PYTHONPATH``, the user site (``pip install --user``). The sandbox mounts every entry of the
grader's ``sys.path`` read-only (:func:`visible_entries`: a ``.pth`` file's folder outside the
environment included), and the child's ``PYTHONPATH`` names, after the staged cnngrade package, those
it would not find by itself (:func:`extra_entries`), so that the child imports what the grader imports.
Never shown: the working directory (a batch's scratch folder, a student's folder) and any entry inside
or around the cnngrade repository but its virtual environment (its ``graders/`` and ``reference/`` stay
out of the sandbox); nothing else is added to the child's view.
"""

from __future__ import annotations

import functools
import importlib.machinery
import json
import os
import subprocess
import sys

import cnngrade

__all__ = ["default_entries", "extra_entries", "installed", "repository", "visible_entries"]


@functools.lru_cache(maxsize=1)
def default_entries() -> frozenset[str]:
    """The entries (real paths) of the ``sys.path`` the child's interpreter builds by itself: what
    ``python -s -P`` prints with no ``PYTHONPATH``. Empty where it cannot be run (then every entry of the
    grader's path is extra, which costs mounts but hides nothing the child needs)."""
    flags = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]
    try:
        printed = subprocess.run([sys.executable, *flags, "-c", "import json, sys; print(json.dumps(sys.path))"],
                                 env={"PATH": os.defpath}, cwd="/", capture_output=True, text=True, timeout=60,
                                 check=True).stdout
        return frozenset(os.path.realpath(p) for p in json.loads(printed) if p)
    except (OSError, subprocess.SubprocessError, ValueError):
        return frozenset()


def repository() -> str | None:
    """The cnngrade repository this package was installed from (an editable install), if any."""
    package = os.path.realpath(os.path.dirname(cnngrade.__file__))
    parent = os.path.dirname(package)
    markers = ("pyproject.toml", ".git", "graders")
    return parent if any(os.path.exists(os.path.join(parent, m)) for m in markers) else None


def _holds(path: str, other: str) -> bool:
    """Whether ``other`` is ``path`` or inside it."""
    return other == path or other.startswith(path.rstrip("/") + "/")


def _in_environment(path: str, repo: str) -> bool:
    """Whether ``path``, inside the repository ``repo``, lies in a virtual environment there (``.venv/``)."""
    folder = path
    while _holds(repo, folder) and folder != repo:
        if os.path.exists(os.path.join(folder, "pyvenv.cfg")):
            return True
        folder = os.path.dirname(folder)
    return False


def visible_entries(path: list[str] | None = None) -> list[str]:
    """The entries of ``path`` (default ``sys.path``) the sandbox shows, as real paths, in order, each
    once: existing folders and zip files, less the working directory (and folders that hold it) and
    anything inside or around the repository but a virtual environment in it."""
    cwd, repo = os.path.realpath(os.getcwd()), repository()
    shown: list[str] = []
    for entry in sys.path if path is None else path:
        real = os.path.realpath(entry) if entry else cwd
        if real in shown or not os.path.exists(real) or _holds(real, cwd):
            continue
        if repo is not None and (_holds(real, repo) or _holds(repo, real) and not _in_environment(real, repo)):
            continue
        shown.append(real)
    return shown


def extra_entries(path: list[str] | None = None) -> list[str]:
    """The :func:`visible_entries` the child's interpreter would not put on its path by itself."""
    defaults = default_entries()
    return [entry for entry in visible_entries(path) if entry not in defaults]


def installed(module: str, visible: list[str]) -> bool:
    """Whether the top-level package of ``module`` (a dotted name) is installed in one of the folders
    ``visible`` (the Python installation the sandbox shows): found on the grader's ``sys.path`` without
    importing anything, and lying under one of them."""
    top = module.split(".", 1)[0]
    if not all(part.isidentifier() for part in module.split(".")):
        return False
    spec = importlib.machinery.PathFinder.find_spec(top, [p for p in sys.path if p])
    if spec is None:
        return False
    places = [spec.origin] if spec.origin not in (None, "namespace") else []
    places += list(spec.submodule_search_locations or [])
    return bool(places) and all(any(_holds(os.path.realpath(folder), os.path.realpath(place)) for folder in visible)
                                for place in places)
