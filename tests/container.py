"""Run a command as a Docker container would: ``python tests/container.py COMMAND...``.

Docker (and GitLab's Docker executor, Kubernetes pods, Gradescope's containers) runs a grader as root
without CAP_SYS_ADMIN, under a seccomp profile that refuses new namespaces. This launcher installs
such a filter (``unshare``, ``setns``, the mount calls, and ``clone`` with any ``CLONE_NEW*`` flag refused
with EPERM; ``clone3`` with ENOSYS, as Docker's default profile does), without no_new_privs (as Docker),
then runs ``capsh --drop=cap_sys_admin -- -c COMMAND`` (Debian's libcap2-bin), which drops
CAP_SYS_ADMIN from the bounding set before the command runs. Run it as root.

Its own tiny BPF program, independent of cnngrade's (:mod:`cnngrade.submission.isolated.seccomp`): it
simulates the container, it does not test cnngrade's filter against itself.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shlex
import shutil
import struct
import sys

#: (AUDIT_ARCH, clone, clone3, the refused: unshare, setns, mount, umount2, pivot_root, fsopen, fsmount,
#: open_tree, move_mount)
ARCHES = {"x86_64": (0xC000003E, 56, 435, (272, 308, 165, 166, 155, 430, 432, 428, 429)),
          "aarch64": (0xC00000B7, 220, 435, (97, 268, 40, 39, 41, 430, 432, 428, 429))}
CLONE_NEW = 0x7E020080
ALLOW, EPERM, ENOSYS = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38


def container_filter() -> bytes:
    arch, clone, clone3, refused = ARCHES[platform.machine()]

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    n = len(refused)
    # 0 ld arch; 1 jeq arch; 2 ld nr; 3..3+n-1 jeq refused -> EPERM; then clone3 -> ENOSYS, clone -> flags
    code = [op(0x20, 4), op(0x15, arch, 1, 0), op(0x06, ALLOW), op(0x20, 0)]
    tail = n + 5  # instructions from the first refused check to the EPERM return
    for i, number in enumerate(refused):
        code.append(op(0x15, number, tail - i - 1, 0))
    code += [op(0x15, clone3, 6, 0),       # -> ENOSYS
             op(0x15, clone, 1, 0),        # -> flags
             op(0x06, ALLOW),
             op(0x20, 16),                 # args[0], low 32 bits
             op(0x45, CLONE_NEW, 0, 1),    # any CLONE_NEW* -> EPERM
             op(0x06, EPERM),
             op(0x06, ALLOW),
             op(0x06, ENOSYS)]
    assert len(code) == 4 + n + 8
    return b"".join(code)


def container_problem() -> str:
    """Why this machine cannot play such a container for cnngrade's tests (root, capsh, a landlock tier
    that can run), or ``""``."""
    from cnngrade.submission.isolated import unprivileged

    if os.geteuid() != 0:
        return "needs root: a container's grader runs as root without CAP_SYS_ADMIN"
    if shutil.which("capsh", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
        return "needs capsh (Debian: apt-get install libcap2-bin) to drop CAP_SYS_ADMIN"
    problem = unprivileged.unavailable(as_root=True)
    return f"the landlock tier cannot run here: {problem}" if problem else ""


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python tests/container.py COMMAND...")
    program = container_filter()
    buffer = ctypes.create_string_buffer(program, len(program))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    prog = Prog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        sys.exit(f"container.py: seccomp: {os.strerror(ctypes.get_errno())}")
    capsh = shutil.which("capsh", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if capsh is None:
        sys.exit("container.py: capsh is missing (Debian: apt-get install libcap2-bin)")
    os.execv(capsh, [capsh, "--drop=cap_sys_admin", "--", "-c", shlex.join(argv)])


if __name__ == "__main__":
    main(sys.argv[1:])
