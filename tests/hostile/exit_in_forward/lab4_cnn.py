"""Hostile: a correct Net whose forward ends the whole process with os._exit(0).

Unlike sys.exit, os._exit cannot be caught: in-process it kills the grader mid-run (exit status
0, no results). Expected isolated: structure checks pass; every forward check fails with "exited
with status 0 during Net.forward", and after a few restarts the child is not started again.
"""

import os

import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        os._exit(0)
