"""Root conftest: the cnngrade plugin (also when the package is not installed as a plugin), and the
Hypothesis profile for cnngrade's own tests (``ci`` when $CI is set, else ``dev``;
$CNNGRADE_HYPOTHESIS_PROFILE chooses explicitly)."""

from cnngrade.properties import load_profile

pytest_plugins = ["cnngrade.plugin"]

load_profile()
