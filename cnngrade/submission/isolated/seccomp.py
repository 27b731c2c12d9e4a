"""A seccomp filter, built as a small classic-BPF program and installed with ``prctl``: no package,
no libseccomp, no privilege (it needs no_new_privs, or CAP_SYS_ADMIN).

:func:`program` assembles the filter the landlock tier's child runs under (:mod:`.unprivileged`):

* a system call of another architecture (or x86_64's x32 ABI) kills the process;
* refused with EPERM: ptrace, process_vm_readv / writev and the other ways into another process
  (process_madvise, pidfd_getfd, kcmp); new namespaces (unshare, setns, and ``clone`` with any
  ``CLONE_NEW*`` flag); mount and its kin (umount2, pivot_root, chroot, the new mount API);
  kexec, bpf, perf_event_open, keyrings, userfaultfd, io_uring (whose requests seccomp cannot see),
  file handles (open_by_handle_at), kernel modules, swap, reboot, clocks, quotas, syslog...; and
  setsid / setpgid, so that every process of the sandbox stays in its process group (the grading
  process stops and kills them all with one signal);
* ``clone3`` fails with ENOSYS (its flags are in memory that seccomp cannot read; the C library then
  falls back to ``clone``, whose flags it can), as Docker's default profile does;
* ``socket`` and ``socketpair`` fail with EAFNOSUPPORT for every family but AF_UNIX (no network,
  no netlink, no raw packets); ``socket`` for AF_UNIX too where ``unix_sockets`` is False (a pair of
  connected Unix sockets reaches nothing else: ``socketpair`` keeps it);
* with ``shared_uid`` (the child keeps the grader's uid: an ordinary user), also chmod / chown /
  extended attributes / timestamps, which Landlock does not cover and the grader's own files would
  otherwise allow.

Everything else is allowed. Tables of system call numbers for x86_64 and aarch64 (checked against the
kernel headers); elsewhere :func:`supported` says why there is no filter.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
#: offsets in struct seccomp_data: nr, arch, and the low 32 bits of args[0] (little-endian)
NR, ARCH, ARG0 = 0, 4, 16
AF_UNIX = 1
#: every CLONE_NEW* flag: NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
CLONE_NEW = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
X32_BIT = 0x40000000

#: AUDIT_ARCH_* and the numbers of the system calls the filter looks at; those at 403 and above are
#: the same on every architecture
_COMMON = {"clone3": 435, "process_madvise": 440, "pidfd_getfd": 438, "move_mount": 429, "open_tree": 428,
           "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
           "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "quotactl_fd": 443,
           "fchmodat2": 452, "setxattrat": 463, "removexattrat": 466, "open_tree_attr": 467}
TABLES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        **_COMMON, "socket": 41, "socketpair": 53, "clone": 56, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "kcmp": 312, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161, "kexec_load": 246, "kexec_file_load": 320, "bpf": 321,
        "perf_event_open": 298, "keyctl": 250, "add_key": 248, "request_key": 249, "userfaultfd": 323,
        "open_by_handle_at": 304, "name_to_handle_at": 303, "init_module": 175, "finit_module": 313,
        "delete_module": 176, "setsid": 112, "setpgid": 109, "swapon": 167, "swapoff": 168, "reboot": 169,
        "acct": 163, "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "clock_adjtime": 305,
        "quotactl": 179, "syslog": 103, "fanotify_init": 300, "lookup_dcookie": 212, "uselib": 134, "_sysctl": 156,
        "iopl": 172, "ioperm": 173, "vhangup": 153,
        "chmod": 90, "fchmod": 91, "fchmodat": 268, "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260,
        "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198,
        "fremovexattr": 199, "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280}),
    "aarch64": (0xC00000B7, {
        **_COMMON, "socket": 198, "socketpair": 199, "clone": 220, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "kcmp": 272, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39,
        "pivot_root": 41, "chroot": 51, "kexec_load": 104, "kexec_file_load": 294, "bpf": 280,
        "perf_event_open": 241, "keyctl": 219, "add_key": 217, "request_key": 218, "userfaultfd": 282,
        "open_by_handle_at": 265, "name_to_handle_at": 264, "init_module": 105, "finit_module": 273,
        "delete_module": 106, "setsid": 157, "setpgid": 154, "swapon": 224, "swapoff": 225, "reboot": 142,
        "acct": 89, "settimeofday": 170, "clock_settime": 112, "adjtimex": 171, "clock_adjtime": 266,
        "quotactl": 60, "syslog": 116, "fanotify_init": 262, "lookup_dcookie": 18, "vhangup": 58,
        "fchmod": 52, "fchmodat": 53, "fchown": 55, "fchownat": 54, "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7,
        "removexattr": 14, "lremovexattr": 15, "fremovexattr": 16, "utimensat": 88}),
}
MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}

#: refused with EPERM, always
REFUSED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "open_tree_attr",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "kexec_load", "kexec_file_load", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "open_by_handle_at", "name_to_handle_at",
    "init_module", "finit_module", "delete_module", "setsid", "setpgid",
    "swapon", "swapoff", "reboot", "acct", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
    "quotactl", "quotactl_fd", "syslog", "fanotify_init", "lookup_dcookie", "uselib", "_sysctl", "iopl", "ioperm",
    "vhangup",
)
#: refused too where the child keeps the grader's uid
REFUSED_SHARED_UID = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "setxattr", "lsetxattr",
    "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat", "utime", "utimes",
    "futimesat", "utimensat",
)


class SeccompError(OSError):
    """The filter could not be built or installed."""


def machine() -> str | None:
    """This machine's architecture as :data:`TABLES` names it, or None."""
    return MACHINES.get(platform.machine().lower())


def supported() -> str | None:
    """None where a filter can be built here, else why not."""
    if machine() is None:
        return f"no seccomp filter for this architecture ({platform.machine()}; x86_64 and aarch64 have one)"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(21, 0, 0, 0, 0) < 0:  # PR_GET_SECCOMP
        return f"seccomp is not available ({errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())})"
    return None


class _Assembler:
    """Classic BPF with labels: a jump names the label of its target (forward only)."""

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, k: int, jt: object = 0, jf: object = 0) -> None:
        self.code.append((code, jt, jf, k))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def bytes(self) -> bytes:
        out = b""
        for pc, (code, jt, jf, k) in enumerate(self.code):
            offsets = []
            for target in (jt, jf):
                offset = self.labels[target] - pc - 1 if isinstance(target, str) else target
                if not 0 <= offset <= 255:
                    raise SeccompError(errno.E2BIG, f"seccomp filter: a jump of {offset} at {pc}")
                offsets.append(offset)
            out += struct.pack("=HBBI", code, offsets[0], offsets[1], k)
        return out


def program(*, shared_uid: bool, unix_sockets: bool, arch: str | None = None) -> bytes:
    """The filter's BPF instructions (struct sock_filter, 8 bytes each)."""
    audit_arch, numbers = TABLES[arch or machine() or ""]
    names = REFUSED + (REFUSED_SHARED_UID if shared_uid else ())
    refused = sorted({numbers[name] for name in names if name in numbers})
    a = _Assembler()
    a.op(LD_W_ABS, ARCH)
    a.op(JEQ_K, audit_arch, 0, "kill")
    a.op(LD_W_ABS, NR)
    if audit_arch == TABLES["x86_64"][0]:
        a.op(JSET_K, X32_BIT, "kill", 0)
    for number in refused:
        a.op(JEQ_K, number, "eperm", 0)
    a.op(JEQ_K, numbers["clone"], "clone", 0)
    a.op(JEQ_K, numbers["clone3"], "enosys", 0)
    a.op(JEQ_K, numbers["socket"], "family", 0)
    a.op(JEQ_K, numbers["socketpair"], "pair", 0)
    a.op(RET_K, RET_ALLOW)
    a.label("clone")
    a.op(LD_W_ABS, ARG0)
    a.op(JSET_K, CLONE_NEW, "eperm", "allow")
    a.label("family")
    a.op(LD_W_ABS, ARG0)
    a.op(JEQ_K, AF_UNIX, "allow" if unix_sockets else "eafnosupport", "eafnosupport")
    a.label("pair")
    a.op(LD_W_ABS, ARG0)
    a.op(JEQ_K, AF_UNIX, "allow", "eafnosupport")
    a.label("eperm")
    a.op(RET_K, RET_ERRNO | errno.EPERM)
    a.label("enosys")
    a.op(RET_K, RET_ERRNO | errno.ENOSYS)
    a.label("eafnosupport")
    a.op(RET_K, RET_ERRNO | errno.EAFNOSUPPORT)
    a.label("allow")
    a.op(RET_K, RET_ALLOW)
    a.label("kill")
    a.op(RET_K, RET_KILL_PROCESS)
    return a.bytes()


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(code: bytes) -> None:
    """Install the filter on this thread (inherited by everything it starts); needs no_new_privs (or
    CAP_SYS_ADMIN). It cannot be removed; later filters can only refuse more."""
    buffer = ctypes.create_string_buffer(code, len(code))
    prog = _Program(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise SeccompError(err, f"seccomp filter: {os.strerror(err)}")
