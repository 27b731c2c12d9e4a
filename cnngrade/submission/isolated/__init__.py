"""The isolated backend: each submission runs in a sandboxed child process that answers over a pipe.

* :mod:`.backend`: :class:`IsolatedSubmission`, the handle whose every call is a request to the child;
* :mod:`.process`: the child process seen from the grading process (pause, resume, kill, its output);
* :mod:`.protocol`: the wire format (length-prefixed JSON headers and raw array bytes, never pickle);
* :mod:`.sandbox`: which sandbox this machine offers and the command line that starts a child in it,
  with :mod:`.nsinit` building the file system view under ``unshare``;
* :mod:`.limits`: what a child may use (times, sizes, processes);
* :mod:`.child`: the program that runs inside the sandbox and serves the requests.

Attributes are imported on first use: ``import cnngrade.submission.isolated.limits`` runs nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnngrade.submission.isolated.backend import IsolatedSubmission, SandboxError
    from cnngrade.submission.isolated.limits import Limits
    from cnngrade.submission.isolated.sandbox import SandboxUnavailable

_EXPORTS = {
    "IsolatedSubmission": "cnngrade.submission.isolated.backend",
    "SandboxError": "cnngrade.submission.isolated.backend",
    "Limits": "cnngrade.submission.isolated.limits",
    "SandboxUnavailable": "cnngrade.submission.isolated.sandbox",
}
__all__ = ["IsolatedSubmission", "Limits", "SandboxError", "SandboxUnavailable"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
