"""Hypothesis settings profiles for the property suites.

Two profiles are registered when this module is imported (nothing is *loaded*: importing
cnngrade never changes a user's Hypothesis settings):

``ci``
    derandomized (the same examples on every run and machine), ``max_examples`` fixed
    (:data:`CI_MAX_EXAMPLES`), no deadline, no example database, no reproduction blobs,
    no "explain" phase. For graders and continuous integration.
``dev``
    random, more examples (:data:`DEV_MAX_EXAMPLES`), no deadline, an example database in the
    user's cache folder (:func:`storage_dir`, ``examples/``: failures are replayed first on the
    next run). For local exploration.

Whatever the profile, nothing is written into the working folder: while a check runs,
Hypothesis's storage (where it caches the constants it reads from local source files, by default
``.hypothesis/`` in the working folder) is :func:`storage_dir` too (:func:`cache_storage`).

The profile a check runs under (:func:`profile_name`): its ``profile=`` argument, else the
environment variable ``CNNGRADE_HYPOTHESIS_PROFILE``, else the one last loaded with
:func:`load_profile` (e.g. from a ``conftest.py``), else ``ci`` when ``CI`` is set, else ``dev``.
Hypothesis's own default settings are never changed by a check; :func:`load_profile` also loads
the profile as Hypothesis's default, for the user's own ``@given`` tests.

Example count: every check runs each property for the active profile's ``max_examples``,
overridden by the environment variable ``CNNGRADE_MAX_EXAMPLES`` and, above that, by a check's
``max_examples=`` argument.

Whatever the profile, a check always runs with ``deadline=None`` (a first call into torch can
be slow), ``report_multiple_bugs=False`` (one failure per property, the smallest, is reported) and the
``too_slow`` / ``data_too_large`` health checks off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, Phase, configuration, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import InvalidArgument

from cnngrade.properties.failure import UsageError

CI = "ci"
DEV = "dev"
#: examples per property under ``ci``
CI_MAX_EXAMPLES = 50
#: examples per property under ``dev``
DEV_MAX_EXAMPLES = 200
#: environment variable naming the profile :func:`load_profile` loads
PROFILE_ENV = "CNNGRADE_HYPOTHESIS_PROFILE"
#: environment variable overriding the example count of every check
MAX_EXAMPLES_ENV = "CNNGRADE_MAX_EXAMPLES"

_QUIET_HEALTH_CHECKS = (HealthCheck.too_slow, HealthCheck.data_too_large)


_registered = False
#: the profile :func:`load_profile` loaded last (None: none)
_loaded: str | None = None


def storage_dir() -> Path:
    """Hypothesis's storage while a check runs: ``$XDG_CACHE_HOME/cnngrade/hypothesis``
    (``~/.cache/cnngrade/hypothesis``); the ``dev`` profile's examples are in its ``examples/``.
    Hypothesis creates it when it first writes there."""
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache) if cache else Path.home() / ".cache") / "cnngrade" / "hypothesis"


#: the module global of hypothesis.configuration that holds its storage directory (None: not chosen yet)
_HOME = "__hypothesis_home_directory"


@contextmanager
def cache_storage() -> Iterator[None]:
    """Hypothesis's storage directory is :func:`storage_dir` meanwhile, not ``.hypothesis/`` in the
    working folder; whatever it was (the user's own choice, or none yet) is restored after."""
    before = getattr(configuration, _HOME, None)
    configuration.set_hypothesis_home_dir(storage_dir())
    try:
        yield
    finally:
        setattr(configuration, _HOME, before)


def register_profiles() -> None:
    """Register ``ci`` and ``dev`` with Hypothesis (again: this resets them to these values)."""
    global _registered
    _registered = True
    settings.register_profile(
        CI,
        max_examples=CI_MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=_QUIET_HEALTH_CHECKS,
    )
    settings.register_profile(
        DEV,
        max_examples=DEV_MAX_EXAMPLES,
        derandomize=False,  # explicit: on CI, Hypothesis's own defaults derandomize
        deadline=None,
        database=DirectoryBasedExampleDatabase(storage_dir() / "examples"),
        print_blob=True,
        suppress_health_check=_QUIET_HEALTH_CHECKS,
    )


def profile_name(name: str | None = None) -> str:
    """The profile to use: ``name``, else ``$CNNGRADE_HYPOTHESIS_PROFILE``, else the one
    :func:`load_profile` loaded last, else ``ci`` on CI (``$CI`` set), else ``dev``."""
    if name:
        return name
    env = os.environ.get(PROFILE_ENV, "").strip()
    if env:
        return env
    if _loaded:
        return _loaded
    return CI if os.environ.get("CI") else DEV


def _ensure_registered() -> None:
    """Register the profiles unless done already (a user's own re-registration is kept)."""
    if not _registered:
        register_profiles()


def load_profile(name: str | None = None) -> str:
    """Make a profile the checks' default, and Hypothesis's (see :func:`profile_name`); return its name."""
    global _loaded
    _ensure_registered()
    chosen = profile_name(name)
    settings.load_profile(chosen)
    _loaded = chosen
    return chosen


def max_examples_override(max_examples: int | None = None) -> int | None:
    """``max_examples`` if given, else ``$CNNGRADE_MAX_EXAMPLES`` if set, else None."""
    if max_examples is not None:
        if max_examples < 1:
            raise UsageError(f"max_examples must be at least 1, got {max_examples}")
        return max_examples
    env = os.environ.get(MAX_EXAMPLES_ENV, "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise UsageError(f"{MAX_EXAMPLES_ENV} must be a positive integer, got {env!r}") from None
        if value < 1:
            raise UsageError(f"{MAX_EXAMPLES_ENV} must be a positive integer, got {env!r}")
        return value
    return None


def active_settings(profile: str | None = None, max_examples: int | None = None) -> settings:
    """The settings a check runs under: the profile :func:`profile_name` picks, with the example
    count override and the check's fixed settings applied."""
    _ensure_registered()
    name = profile_name(profile)
    try:
        parent = settings.get_profile(name)
    except InvalidArgument:
        raise UsageError(
            f"no Hypothesis profile {name!r}: use ci, dev, or one registered with hypothesis.settings.register_profile"
        ) from None
    overrides = {}
    count = max_examples_override(max_examples)
    if count is not None:
        overrides["max_examples"] = count
    quiet = tuple(dict.fromkeys((*parent.suppress_health_check, *_QUIET_HEALTH_CHECKS)))
    return settings(
        parent, deadline=None, report_multiple_bugs=False, suppress_health_check=quiet, **overrides
    )


register_profiles()
