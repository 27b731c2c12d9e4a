"""The lab's file contract: which file of a submission holds which graded names.

It is data, from the lab's ``lab.toml``::

    [net]
    class = "Net"                     # the network class, defined in one of the parts
    [parts]
    lab4_cnn = ["Net"]                # file stem = the names graders use from that file
    pooling = ["max_pool2d", "avg_pool2d"]
    answers = []                      # no names: the part holding the answer constants (UPPER_CASE)

A submission is a directory holding these files, or one ``.py`` / ``.ipynb`` file holding
some or all of their names (README.md, "What a submission contains"). :class:`Parts` travels to
the sandboxed child as JSON (:meth:`Parts.as_json`): it holds names only, nothing secret.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: the optional trained weights file of a directory submission.
MODEL_FILE = "model.pt"


class PartsError(ValueError):
    """``[parts]`` / ``[net] class`` of a lab.toml are missing or inconsistent."""


@dataclass(frozen=True)
class Parts:
    """Each part (a file stem) and the names the graders use from it, in ``lab.toml`` order; the
    network class's name; the part without names, if any, holds the answer constants."""

    files: tuple[tuple[str, tuple[str, ...]], ...]
    net_class: str

    def __post_init__(self) -> None:
        stems = [part for part, _ in self.files]
        if len(set(stems)) != len(stems):
            raise PartsError(f"a part is listed twice in [parts]: {stems}")
        if self.net_part is None:
            raise PartsError(f"no part of [parts] lists the network class {self.net_class!r} ([net] class)")
        if sum(1 for _, names in self.files if not names) > 1:
            raise PartsError("[parts] lists more than one part without names (the answers' part)")

    @classmethod
    def from_lab(cls, data: Mapping[str, Any]) -> Parts:
        """From a parsed lab.toml: ``[parts]`` and ``[net] class``."""
        parts = data.get("parts")
        if not isinstance(parts, Mapping) or not parts:
            raise PartsError("lab.toml has no [parts] table (file stem = the names graders use from it)")
        files = []
        for part, names in parts.items():
            if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier() for n in names):
                raise PartsError(f"[parts] {part} must be a list of Python names, not {names!r}")
            if not part.isidentifier():
                raise PartsError(f"[parts] {part!r} is not a file stem Python can import")
            files.append((part, tuple(names)))
        net_class = data.get("net", {}).get("class")
        if not isinstance(net_class, str):
            raise PartsError("lab.toml has no [net] class (the name of the network class)")
        return cls(tuple(files), net_class)

    def as_json(self) -> dict[str, Any]:
        return {"files": [[part, list(names)] for part, names in self.files], "net_class": self.net_class}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Parts:
        return cls(tuple((part, tuple(names)) for part, names in data["files"]), data["net_class"])

    def __iter__(self) -> Iterator[str]:
        return (part for part, _ in self.files)

    def __contains__(self, part: object) -> bool:
        return any(part == p for p, _ in self.files)

    def names(self, part: str) -> tuple[str, ...]:
        """The names graders use from ``part`` (none for the answers' part)."""
        return dict(self.files)[part]

    @property
    def net_part(self) -> str | None:
        """The part that defines the network class."""
        return next((part for part, names in self.files if self.net_class in names), None)

    @property
    def answers_part(self) -> str | None:
        """The part holding the answer constants (the one listed without names), if the lab has one."""
        return next((part for part, names in self.files if not names), None)

    @property
    def functions(self) -> frozenset[str]:
        """The lab functions: every graded name but the network class."""
        return frozenset(n for _, names in self.files for n in names if n != self.net_class)

    def part_of(self, name: str) -> str:
        """The part that defines ``name``: answer constants (UPPER_CASE) are in the answers' part."""
        for part, names in self.files:
            if name in names:
                return part
        if name.isupper() and self.answers_part is not None:
            return self.answers_part
        raise KeyError(name)
