"""Hostile: Net() forks 8 processes that each fill 2 GiB of memory, 16 GiB together, then waits for
them and builds an ordinary Net.

Each process stays under the per-process address-space limit (8 GiB), so rlimits alone let them take
16 GiB of the grading machine. Isolated, where cgroups are available: the child's cgroup caps the
memory of all its processes together (4 GiB), the kernel kills processes of the cgroup, not of the
machine, and the call fails saying the submission used more memory than its limit. (Where no cgroup
caps it, the tests do not grade it: see tests/corpus.py.)
"""

import os
import time

import torch.nn as nn
import torch.nn.functional as F

PROCESSES = 8
EACH = 2 << 30


def _fill():
    try:
        block = b"\1" * EACH  # written, so every page is really used
        time.sleep(1)  # all of them at once
        os._exit(0 if block[-1] == 1 else 1)
    finally:
        os._exit(1)  # never back into the server's code


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        children = []
        for _ in range(PROCESSES):
            pid = os.fork()
            if pid == 0:
                _fill()
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
