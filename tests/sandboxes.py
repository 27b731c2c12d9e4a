"""The sandbox of this machine, for the tests of the isolated backend.

Where no sandbox works (a laptop without unprivileged user namespaces, say), those tests skip and
say why, unless ``CNNGRADE_REQUIRE_SANDBOX`` is set, as ``.ci/run`` does: then they fail.
"""

from __future__ import annotations

import os

import pytest

from cnngrade.submission.isolated import sandbox


def sandbox_or_skip() -> sandbox.Sandbox:
    """The sandbox the isolated backend uses here; skips (or, where one is required, fails) without one."""
    try:
        return sandbox.detect()
    except sandbox.SandboxUnavailable as exc:
        reason = f"no sandbox on this machine: {str(exc).splitlines()[1].strip()}"
        if os.environ.get("CNNGRADE_REQUIRE_SANDBOX", "") not in ("", "0"):
            pytest.fail(f"{reason} (CNNGRADE_REQUIRE_SANDBOX is set)")
        pytest.skip(reason)
