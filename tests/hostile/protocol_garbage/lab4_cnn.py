"""Hostile: writes garbage straight into the child's answer pipe.

forward finds every pipe among its open file descriptors (/proc/self/fd) and writes a frame
header claiming a 4 GiB header followed by junk, hoping to crash or confuse whatever reads the
answers. Expected: the parent rejects the oversized frame without reading it, stops the child,
and every forward check fails with "malformed answer".
"""

import os

import torch.nn as nn
import torch.nn.functional as F


def _poison_pipes():
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd < 3:
            continue
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                os.write(fd, b"\xff\xff\xff\xf0" + b"{not json" * 100)
        except OSError:
            pass


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        _poison_pipes()
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
