"""Hostile: patches builtins so that the grader's loops see nothing to check.

`builtins.zip` returns an empty iterator when a grader check calls it (the ReLU check walks
`zip(calls, calls[1:])`), and `builtins.any` / `all` answer in the grader's favour for calls from
grader code. The Net has no ReLU after conv1. In-process the ReLU check passes. Isolated: the
child's builtins are not the parent's, so the check fails ("conv1 before it has no ReLU").
"""

import builtins
import sys

import torch.nn as nn
import torch.nn.functional as F


def _patch_builtins():
    real_zip = builtins.zip

    def from_grader():
        return "graders" in sys._getframe(2).f_code.co_filename

    def zip(*iterables, **kwargs):
        return iter(()) if from_grader() else real_zip(*iterables, **kwargs)

    builtins.zip = zip
    return True


class Net(nn.Module):
    patched = _patch_builtins()

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2)  # bug: no ReLU after conv1
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
