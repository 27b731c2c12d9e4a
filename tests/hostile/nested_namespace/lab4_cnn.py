"""Hostile: a background process in a PID namespace of its own, nested in the sandbox's, keeps working.

While the file loads it starts a process that makes a new user and PID namespace (unshare(2) with
CLONE_NEWUSER | CLONE_NEWPID, where the sandbox allows it), leaves its session with setsid, and
forks a child that is pid 1 of the nested namespace; that child burns CPU for ever, writing one
byte to a pipe per round. Its /proc/PID/ns/pid is not the sandbox's, so a pause that looks only
for the sandbox's namespace misses it. Forward reports, like setsid_background's: for a batch of
2 images the rounds since the previous forward and whether the namespace is nested; for a batch
of 3 the rounds during a 0.5 s sleep inside the call. The Net also returns raw logits. Isolated:
bubblewrap forbids nested user namespaces (the process only escapes its group, and is paused);
the unshare sandbox run by root allows them, and the parent pauses the process by its uid, which
is the sandbox's own.
"""

import os
import subprocess
import sys
import time

import torch.nn as nn
import torch.nn.functional as F

_BURNER = """
import ctypes, os, sys, time
out = int(sys.argv[1])
nested = ctypes.CDLL(None, use_errno=True).unshare(0x10000000 | 0x20000000) == 0
os.setsid()
if os.fork():
    os._exit(0)
os.write(out, b"N" if nested else b"F")
while True:
    total = 0
    for i in range(20000):
        total += i
    os.write(out, b"x")
    time.sleep(0.002)  # a round is work then a pause: it counts time running, at a third of a core
"""
_state = {"pipe": -1, "nested": False}


def _start():
    read, write = os.pipe()
    os.set_blocking(read, False)
    subprocess.Popen(
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
        _state["nested"] = _state["nested"] or b"N" in chunk
        count += chunk.count(b"x")


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
            out[0, 1] = float(_state["nested"])
        _rounds()
        return out
