"""Hostile: ends the process that loads it, with exit status 0 and no traceback.

`os._exit(0)` sits in the class body, so it runs as soon as the grader executes the `class`
statement (definitions-only loading runs class bodies). In-process this kills pytest itself: no
results at all. Isolated: only the sandboxed child dies; every check that needs Net fails with
"exited with status 0".
"""

import os

import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    os._exit(0)

    def __init__(self):
        super().__init__()
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
