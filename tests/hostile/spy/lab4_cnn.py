"""Hostile: a spy that reports, in its own feedback, everything it can see or touch.

Net() gathers what the process can reach: the instructor's files (reference/, graders/,
lab.toml), the bundled MNIST with its test labels, Debian's datasets, caches, the grader's
command line and environment through /proc, the network, the environment variables, which
directories it can write to, its uid and capabilities, whether it can make a user namespace; then raises with a JSON report between
SPY<< and >>SPY, which the grader shows as feedback. tests/test_hostile.py reads that report from
the isolated run and checks that none of it is visible.
"""

import ctypes
import glob
import json
import os
import socket
import sysconfig
import tempfile

import torch.nn as nn

PARENT_FILES = ("reference/lab4_cnn.py", "graders/lab.toml", "graders/test_2_forward.py", "graders/conftest.py")


def _readable(path):
    try:
        with open(path, "rb") as f:
            f.read(16)
        return True
    except OSError:
        return False


def _secrets():
    places = {os.getcwd(), "/work/main", os.path.expanduser("~")}
    here = os.path.dirname(os.path.abspath(__file__))
    for _ in range(6):
        places.add(here)
        here = os.path.dirname(here)
    for pid in ["1", str(os.getppid())] + [p for p in os.listdir("/proc") if p.isdigit()][:50]:
        try:
            places.add(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            pass
    found = [os.path.join(p, f) for p in sorted(places) for f in PARENT_FILES if _readable(os.path.join(p, f))]
    try:
        import cnngrade

        package = os.path.dirname(cnngrade.__file__)
        found += [p for p in glob.glob(os.path.join(package, "data", "*.npz")) if _readable(p)]
        found += [p for p in glob.glob(os.path.join(package, "data", "*.json")) if _readable(p)]
    except ImportError:
        pass
    for pattern in ("/usr/share/datasets/**/*", os.path.expanduser("~/.cache/cnngrade/**/*"), "/root/.cache/**/*",
                    "/work/main/cnngrade/data/*.npz", "/etc/shadow", "/root/*"):
        found += [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p) and _readable(p)][:5]
    for pid in {"1", str(os.getppid())} - {str(os.getpid())}:
        for what in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as f:
                    text = f.read().decode(errors="replace")
                sandbox = "isolated.child" in text or "isolated.forkserver" in text  # the sandbox's own processes
                if "pytest" in text or "cnngrade" in text.lower() and not sandbox:
                    found.append(f"/proc/{pid}/{what}")
            except OSError:
                pass
    return sorted(set(found))


def _writable():
    places = {os.path.dirname(os.path.abspath(__file__)), sysconfig.get_paths()["purelib"], "/usr/lib", "/opt",
              "/", os.path.expanduser("~"), os.getcwd(), tempfile.gettempdir(), "/dev/shm", "/dev", "/submission",
              os.path.expanduser("~/.cache"), "/work", "/root"}
    try:
        import cnngrade

        places.add(os.path.dirname(cnngrade.__file__))
    except ImportError:
        pass
    writable = []
    for place in sorted(places):
        path = os.path.join(place, f".cnngrade-spy-{os.getpid()}")
        try:
            with open(path, "w") as f:
                f.write("x")
            os.unlink(path)
            writable.append(place)
        except OSError:
            pass
    return writable


def _network():
    results = {}
    try:
        socket.getaddrinfo("pypi.org", 443)
        results["dns"] = "resolved"
    except OSError as exc:
        results["dns"] = type(exc).__name__
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=3).close()
        results["connect"] = "connected"
    except OSError as exc:
        results["connect"] = type(exc).__name__
    results["interfaces"] = sorted(name for _, name in socket.if_nameindex())
    return results


def _capabilities():
    with open("/proc/self/status") as f:
        return {k: v.strip() for k, v in (line.split(":", 1) for line in f) if k in ("CapEff", "CapPrm", "NoNewPrivs")}


def _user_namespace():
    """Whether a forked process could make a new user namespace (a way to capabilities of its own)."""
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.unshare(0x10000000) == 0 else min(ctypes.get_errno(), 255) or 1)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "created" if code == 0 else f"refused (errno {code})"


def report():
    return {
        "uid": os.getuid(), "euid": os.geteuid(), "groups": os.getgroups(), "capabilities": _capabilities(),
        "secrets": _secrets(), "writable": _writable(), "network": _network(), "env": sorted(os.environ),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())[:50], "hostname": socket.gethostname(),
        "cwd": os.getcwd(), "user_namespace": _user_namespace(),
    }


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError("SPY<<" + json.dumps(report()) + ">>SPY")

    def forward(self, x):
        return x
