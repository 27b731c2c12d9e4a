"""``python -m cnngrade.data fetch mnist`` / ``... info``: the same as ``cnngrade data ...``."""

from .cli import main_data

raise SystemExit(main_data(prog="python -m cnngrade.data"))
