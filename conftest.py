"""Root conftest: the cnngrade plugin, also when the package is not installed as a plugin."""

pytest_plugins = ["cnngrade.plugin"]
