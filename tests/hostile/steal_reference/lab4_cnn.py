"""Hostile: finds the instructor's reference solution on disk and grades as it.

While the file loads it looks for `reference/lab4_cnn.py` near the grader: the working
directory, the parents of this file, the working directories and command lines of every process
it can see in /proc (its parent's first), and $PWD. If it finds it, it executes it and replaces
its own Net with the reference's. Its own Net is broken (raw logits, no dropout in forward).
In-process it scores full marks. Isolated: the sandbox has no repository, no other processes and
no environment, so its own Net is graded: log-softmax and dropout checks fail.
"""

import os

import torch.nn as nn
import torch.nn.functional as F


def _places():
    yield os.getcwd()
    yield os.environ.get("PWD", "")
    here = os.path.dirname(os.path.abspath(__file__))
    for _ in range(6):
        yield here
        here = os.path.dirname(here)
    pids = [str(os.getppid())] + [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        try:
            yield os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                for arg in f.read().split(b"\0"):
                    text = arg.decode(errors="replace").split("=", 1)[-1]
                    if text.startswith("/"):
                        yield os.path.dirname(text)
                        yield os.path.dirname(os.path.dirname(text))
        except OSError:
            continue
    yield "/work/main"


def _steal():
    for place in _places():
        candidate = os.path.join(place, "reference", "lab4_cnn.py")
        try:
            with open(candidate) as f:
                source = f.read()
        except OSError:
            continue
        namespace = {"__name__": "stolen"}
        try:
            exec(compile(source, candidate, "exec"), namespace)
        except BaseException:
            continue
        if "Net" in namespace:
            globals()["Net"] = namespace["Net"]
            return candidate
    return None


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))  # bug: no dropout
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)  # bug: raw logits


class _Thief:
    stolen = _steal()
