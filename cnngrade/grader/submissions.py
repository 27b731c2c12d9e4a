"""The submissions one grading run grades, each under a name of its own.

A name is the submission path's last component (``softmax``, ``lab4.ipynb``) with every character
outside ``[A-Za-z0-9._-]`` replaced by ``_``; a name given twice gets ``-2``, ``-3``, ... With several
submissions every check is parametrized by the name (``test_log_softmax[softmax]``), and
``--results-json`` must hold ``{name}``: ``out/{name}/results.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

#: the placeholder of ``--results-json`` that becomes each submission's name
NAME_FIELD = "{name}"


def submission_name(path: Path) -> str:
    """``softmax`` for ``tests/buggy/softmax/``; ``lab4.ipynb`` for a notebook."""
    return re.sub(r"[^\w.-]", "_", path.resolve().name or "submission", flags=re.ASCII)


@dataclass(frozen=True)
class Submissions:
    """Submission paths by name, in the order given, and where each one's ``results.json`` goes."""

    paths: dict[str, Path]
    results: str | None = None

    @classmethod
    def from_options(cls, paths: list[str] | list[Path], results: str | None) -> Submissions:
        named: dict[str, Path] = {}
        for path in map(Path, paths):
            base = name = submission_name(path)
            count = 1
            while name in named:
                count += 1
                name = f"{base}-{count}"
            named[name] = path
        if len(named) > 1 and results and NAME_FIELD not in results:
            raise pytest.UsageError(
                f"--results-json {results}: with {len(named)} submissions the path must contain {NAME_FIELD}, "
                f"which becomes each submission's name (for example results/{NAME_FIELD}/results.json)."
            )
        return cls(named, results)

    @property
    def names(self) -> list[str]:
        return list(self.paths)

    @property
    def several(self) -> bool:
        return len(self.paths) > 1

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, name: object) -> bool:
        return name in self.paths

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]

    def after(self, name: str) -> str | None:
        """The name graded after ``name``, or None for the last."""
        names = self.names
        index = names.index(name) + 1
        return names[index] if index < len(names) else None

    def results_path(self, name: str) -> Path | None:
        """Where ``name``'s results.json goes (None: not asked for)."""
        if not self.results:
            return None
        return Path(self.results.replace(NAME_FIELD, name))
