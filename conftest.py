"""Root conftest: the cnngrade plugin, also when the package is not installed as a plugin (its entry
point then registers nothing twice: both are named ``cnngrade.plugin``). Light: a grading run loads it."""

pytest_plugins = ["cnngrade.plugin"]
