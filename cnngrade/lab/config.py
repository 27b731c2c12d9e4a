"""``graders/lab.toml``: every threshold and point value of the lab, in one file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class ConfigError(Exception):
    """``lab.toml`` is missing, malformed, or lacks a setting a check needs."""


class LabConfig:
    """The parsed ``lab.toml``; ``config["net"]["expected_parameters"]`` style access.

    ``setting("net.expected_parameters")`` fails with a message naming the file and key.
    """

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path) -> LabConfig:
        try:
            with path.open("rb") as f:
                return cls(path, tomllib.load(f))
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

    def points(self, check: str, default: float) -> float:
        """Points for ``check``: ``[points]`` in lab.toml overrides the grader's marker."""
        return float(self.data.get("points", {}).get(check, default))
