"""Landlock, the Linux security module that lets an unprivileged process restrict its own access to the
file system (and, from ABI 4, TCP; from ABI 6, signals and abstract Unix sockets), by its three system
calls through ctypes: no package, no privilege.

A :class:`Ruleset` handles every access right the kernel's ABI knows; each :meth:`Ruleset.allow` grants
some of them beneath one directory (or on one file); :meth:`Ruleset.restrict_self` applies it to the
calling thread for good (it is inherited by every process it forks and execs). Anything not granted is
refused, including reading outside the granted directories. Standard library only: it runs in the fork
server's child (:mod:`.unprivileged`) before any student code.
"""

from __future__ import annotations

import ctypes
import os
import stat

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

#: the rights that apply to a file (not a directory)
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
#: reading (and running) what lies beneath a directory
READ = READ_FILE | READ_DIR | EXECUTE
#: a private folder's rights: anything but devices and running what it holds
WRITE = (READ_FILE | READ_DIR | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO
         | MAKE_SYM | REFER | TRUNCATE)
#: a device node's (/dev/null ...)
DEVICE = READ_FILE | WRITE_FILE

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockError(OSError):
    """Landlock is missing, or a rule could not be made or applied."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _fail(what: str) -> LandlockError:
    err = ctypes.get_errno()
    return LandlockError(err, f"{what}: {os.strerror(err)}")


def abi() -> int:
    """The kernel's Landlock ABI version (1, 2, ...); :class:`LandlockError` where there is none
    (a kernel built without it, or booted without ``landlock`` in its LSM list)."""
    version = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    if version < 0:
        raise _fail("Landlock is not available")
    return int(version)


def handled_fs(version: int) -> int:
    """Every file-system right the ABI ``version`` knows."""
    rights = (1 << 13) - 1
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


class Ruleset:
    """A Landlock ruleset handling every right of the kernel's ABI (TCP bind and connect from ABI 4,
    signal and abstract Unix socket scoping from ABI 6): what is not allowed is refused."""

    def __init__(self, version: int | None = None) -> None:
        self.abi = abi() if version is None else version
        self.fs = handled_fs(self.abi)
        attr = _RulesetAttr(self.fs, NET_BIND_TCP | NET_CONNECT_TCP if self.abi >= 4 else 0,
                            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if self.abi >= 6 else 0)
        size = 8 if self.abi < 4 else 16 if self.abi < 6 else 24
        fd = _libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        if fd < 0:
            raise _fail("landlock_create_ruleset")
        self.fd = int(fd)

    @property
    def scopes_signals(self) -> bool:
        """Whether signals to processes outside the sandbox are refused (ABI 6)."""
        return self.abi >= 6

    def allow(self, path: str, rights: int) -> bool:
        """Grant ``rights`` (those the ABI knows; file rights only, for a file) beneath ``path``; False
        if it does not exist (nothing granted). Symbolic links are followed."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            granted = rights & self.fs
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                granted &= FILE_RIGHTS
            rule = _PathBeneathAttr(granted, fd)
            if _libc.syscall(SYS_ADD_RULE, ctypes.c_int(self.fd), ctypes.c_int(RULE_PATH_BENEATH),
                             ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                raise _fail(f"landlock_add_rule {path}")
        finally:
            os.close(fd)
        return True

    def restrict_self(self) -> None:
        """Apply the ruleset to this thread (and everything it starts) for good; needs no_new_privs
        (or CAP_SYS_ADMIN). The calling process must have one thread: the others would stay free."""
        if _libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0)) != 0:
            raise _fail("landlock_restrict_self")
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
