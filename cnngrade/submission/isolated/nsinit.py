"""Namespace set-up for the ``unshare`` sandbox (used only where bubblewrap is unavailable).

Run by ``unshare --mount --pid --net --ipc --uts --fork`` (plus ``--user --map-root-user`` for an
ordinary user) as ``python -S -I -B nsinit.py SPEC_JSON``, as root of the new namespaces. It
builds a new root on a small tmpfs with read-only bind mounts, a private tmpfs /tmp, a fresh
/proc and a minimal /dev; pivots into it and detaches the old root; then drops to the sandbox
uid (or, in a user namespace, drops every capability), sets no_new_privs and executes the child.

Standard library only: it runs before anything of the sandbox exists.
"""

import ctypes
import json
import os
import platform
import socket
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_PRIVATE, MS_RELATIME = 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_CAP_AMBIENT = 38, 24, 28, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECBIT_NOROOT, SECBIT_NOROOT_LOCKED, SECBIT_NO_SETUID_FIXUP = 1, 2, 4
SECBIT_NO_SETUID_FIXUP_LOCKED, SECBIT_KEEP_CAPS_LOCKED = 8, 32
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "ppc64": 203, "s390x": 217,
              "i686": 217, "i386": 217, "armv7l": 218}

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    check(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def locked_flags(path):
    """Flags of the mount holding ``path`` that a user namespace may not clear on remount."""
    flags = os.statvfs(path).f_flag
    result = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (getattr(os, "ST_RELATIME", 4096), MS_RELATIME)):
        if flags & st:
            result |= ms
    return result


def bind(source, target, writable=False, dev=False):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | locked_flags(source)
    if not writable:
        flags |= MS_RDONLY
    if not dev:
        flags |= MS_NODEV
    mount(None, target, None, flags)


def build(root, mounts):
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    read_only = []
    for kind, dest, source, size in mounts:
        target = root + dest
        if kind == "ro":
            bind(source, target)
        elif kind == "dev-bind":
            bind(source, target, writable=True, dev=True)
        elif kind == "symlink":
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(source, target)
        elif kind == "tmpfs":
            os.makedirs(target, exist_ok=True)
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
        elif kind == "proc":
            os.makedirs(target, exist_ok=True)
            mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "dev":
            os.makedirs(target, exist_ok=True)
            mount("tmpfs", target, "tmpfs", MS_NOSUID, "size=64k,mode=0755")
            for name in ("null", "zero", "full", "random", "urandom", "tty"):
                if os.path.exists("/dev/" + name):
                    bind("/dev/" + name, f"{target}/{name}", writable=True, dev=True)
            for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                               ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
                os.symlink(link, f"{target}/{name}")
            os.makedirs(f"{target}/shm")
            mount("tmpfs", f"{target}/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size or 1 << 20},mode=1777")
            read_only.append(target)  # after the device binds that go into it
        else:
            raise ValueError(f"unknown mount kind {kind}")
    for target in read_only:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_RDONLY | locked_flags(target))
    mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | locked_flags(root))


def pivot(root):
    os.chdir(root)
    number = PIVOT_ROOT.get(platform.machine())
    if number is not None:
        check(libc.syscall(number, b".", b"."), "pivot_root")
        check(libc.umount2(b".", MNT_DETACH), "umount old root")
    else:
        os.chroot(".")
    os.chdir("/")


def drop_privileges(spec):
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if spec["drop"] == "setuid":
        os.setgroups([])
        os.setresgid(spec["gid"], spec["gid"], spec["gid"])
        os.setresuid(spec["uid"], spec["uid"], spec["uid"])
        if os.getuid() != spec["uid"] or os.geteuid() != spec["uid"]:
            raise OSError("could not drop to the sandbox uid")
    else:  # root of a user namespace: keep the uid, lose every capability for good
        bits = (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP
                | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED)
        check(libc.prctl(PR_SET_SECUREBITS, bits, 0, 0, 0), "securebits")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def main():
    spec = json.loads(sys.argv[1])
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    build(spec["root"], spec["mounts"])
    try:
        socket.sethostname(spec.get("hostname", "sandbox"))
    except OSError:
        pass
    pivot(spec["root"])
    drop_privileges(spec)
    os.chdir(spec["cwd"])
    for fd in range(3, 1024):  # nothing of the set-up reaches the child but the pipes 0, 1, 2
        try:
            os.close(fd)
        except OSError:
            pass
    os.execve(spec["argv"][0], spec["argv"], spec["env"])


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:  # noqa: BLE001 - report any set-up failure and stop
        sys.stderr.write(f"cnngrade sandbox set-up (unshare) failed: {exc}\n")
        os._exit(125)
