"""Hostile: prints 1 GB of output from forward, then returns a correct answer.

A grader that collects the output in memory runs out of it, and a log of 1 GB per student fills
the disk. Isolated: the parent drains the output, keeps its end, and stops the child once it has
printed more than the cap: forward checks fail with "printed more than".
"""

import sys

import torch.nn as nn
import torch.nn.functional as F

CHUNK = "spam " * (1 << 18)  # 1.25 MiB


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        for _ in range(820):
            sys.stdout.write(CHUNK)
            sys.stderr.write(CHUNK[:100])
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
