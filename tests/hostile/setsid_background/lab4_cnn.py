"""Hostile: a background process that leaves the sandbox's process group to keep working between calls.

While the file loads it starts a separate process that calls os.setsid() (a session and process
group of its own, out of reach of a signal to the group it was started in) and then burns CPU for
ever, writing one byte to a pipe per round of work. Forward reads the pipe; for a batch of 2 images
(a size the graders do not use) it reports in its first output how many rounds the process managed
since the previous forward ended, and in the second whether the process is alive in a session of
its own; for a batch of 3 it waits half a second first and reports the rounds done meanwhile (the
process does work while a call runs). Tests read them. The Net also returns raw logits. Isolated:
the parent stops every process of the sandbox's PID namespace between calls, the escaped one too,
so it gets (almost) nothing done while the grader works, and the log-softmax check fails. (If its
parent dies, its next write to the pipe fails and it ends.)
"""

import os
import subprocess
import sys
import time

import torch.nn as nn
import torch.nn.functional as F

_BURNER = """
import os, sys, time
os.setsid()
out = int(sys.argv[1])
while True:
    total = 0
    for i in range(20000):
        total += i
    os.write(out, b"x")
    time.sleep(0.002)  # a round is work then a pause: it counts time running, at a third of a core
"""
_state = {"pipe": -1, "process": None}


def _start():
    read, write = os.pipe()
    os.set_blocking(read, False)
    _state["process"] = subprocess.Popen(
        [sys.executable, "-S", "-c", _BURNER, str(write)], pass_fds=(write,),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write)
    _state["pipe"] = read
    return True


def _rounds():
    count = 0
    while True:
        try:
            chunk = os.read(_state["pipe"], 1 << 16)
        except BlockingIOError:
            return count
        if not chunk:
            return count
        count += len(chunk)


def _escaped():
    process = _state["process"]
    try:
        return process.poll() is None and os.getsid(process.pid) != os.getsid(0)
    except OSError:
        return False


class Net(nn.Module):
    started = _start()

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        rounds = _rounds()
        if x.shape[0] == 3:
            time.sleep(0.5)
            rounds = _rounds()
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        out = self.fc2(x)  # bug: raw logits
        if out.shape[0] in (2, 3):
            out[0, 0] = float(rounds)
            out[0, 1] = float(_escaped())
        _rounds()
        return out
