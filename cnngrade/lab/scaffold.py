"""A new lab's files (``cnngrade new``): ``new_lab/lab.toml``, whose comments explain each setting,
and ``new_lab/reference.py.txt``, a reference whose network is an empty skeleton between solution
markers; ``$name``-style fields filled in (:class:`string.Template`)."""

from __future__ import annotations

from pathlib import Path
from string import Template

FILES = Path(__file__).with_name("new_lab")


def scaffold(directory: Path, *, name: str, part: str, net_class: str, shown: str | None = None) -> list[Path]:
    """Write ``directory/lab.toml`` and ``directory/reference/PART.py``; the paths written. ``shown``: the
    directory as the commands written into lab.toml's comments name it (default: ``directory``)."""
    fields = {"directory": shown or str(directory), "name": name, "part": part, "net_class": net_class}
    toml = directory / "lab.toml"
    reference = directory / "reference" / f"{part}.py"
    reference.parent.mkdir(parents=True)
    for target, source in ((toml, "lab.toml"), (reference, "reference.py.txt")):
        text = Template((FILES / source).read_text(encoding="utf-8")).substitute(fields)
        target.write_text(text, encoding="utf-8")
    return [toml, reference]
