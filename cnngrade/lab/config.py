"""``graders/lab.toml``: every threshold and point value of the lab, in one file."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


from cnngrade.lab.parts import Parts, PartsError

#: the project's default lab (the README's two commands grade it): ``graders/lab.toml`` of the checkout
DEFAULT_LAB_CONFIG = Path(__file__).resolve().parents[2] / "graders" / "lab.toml"


class ConfigError(Exception):
    """``lab.toml`` is missing, malformed, or lacks a setting a check needs."""


class LabConfig:
    """The parsed ``lab.toml``; ``config["net"]["expected_parameters"]`` style access.

    ``setting("net.expected_parameters")`` fails with a message naming the file and key.
    """

    def __init__(self, path: Path, data: dict[str, Any], text: str = "") -> None:
        self.path = path
        self.data = data
        self.text = text

    @classmethod
    def load(cls, path: Path) -> LabConfig:
        try:
            text = path.read_text(encoding="utf-8")
            return cls(path, tomllib.loads(text), text)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path} is not UTF-8 text: {exc}") from None
        except FileNotFoundError:
            raise ConfigError(f"Lab configuration not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None

    def setting(self, dotted: str) -> Any:
        """The value at ``a.b.c``, or :class:`ConfigError`."""
        value: Any = self.data
        for key in dotted.split("."):
            if not isinstance(value, dict) or key not in value:
                raise ConfigError(f"{self.path} has no setting `{dotted}`.")
            value = value[key]
        return value

    def get(self, dotted: str, default: Any) -> Any:
        """The value at ``a.b.c``, or ``default`` where lab.toml does not set it."""
        try:
            return self.setting(dotted)
        except ConfigError:
            return default

    def problems(self) -> list[str]:
        """``line N: [table] key = value: what is wrong; the fix`` for each problem of this lab.toml: a key no
        grader reads, a value of the wrong type, settings that disagree (:mod:`.validation`, which
        imports torch); none where it can grade."""
        from cnngrade.lab.validation import lab_problems

        return lab_problems(self.data, self.text)

    def validate(self) -> LabConfig:
        """This lab, or :class:`ConfigError` listing its problems: a lab that lies grades no one (an
        instructor's mistake is never scored as a student's)."""
        problems = self.problems()
        if problems:
            listed = "".join(f"\n  - {problem}" for problem in problems)
            raise ConfigError(f"{self.path} cannot grade anyone until it is fixed ({len(problems)} problem"
                              f"{'s' if len(problems) > 1 else ''}; `cnngrade check-lab` lists them too):{listed}")
        return self

    @functools.cached_property
    def parts(self) -> Parts:
        """The lab's file contract (``[parts]``, ``[net] class``)."""
        try:
            return Parts.from_lab(self.data)
        except PartsError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None

    def points(self, check: str, default: float) -> float:
        """Points for ``check``: ``[points]`` in lab.toml overrides the grader's marker."""
        return float(self.data.get("points", {}).get(check, default))


@functools.lru_cache(maxsize=1)
def default_parts() -> Parts:
    """The file contract of the project's default lab (:data:`DEFAULT_LAB_CONFIG`)."""
    return LabConfig.load(DEFAULT_LAB_CONFIG).parts
