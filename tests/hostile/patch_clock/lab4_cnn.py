"""Hostile: a slow Net that hides its time from the grader's clock.

forward sleeps 0.4 s per eval-mode batch of 64 (the speed check's), far slower than the
reference. While the file loads it replaces `time.perf_counter` (and `time.monotonic`) with
clocks that do not advance while forward runs, so that a grader timing forward in the same
process sees almost no time and a huge speed. The rest of the Net is correct. In-process the
speed check passes. Isolated: the parent times the round trip with its own clock, so the speed
check fails ("images/s").
"""

import time

import torch.nn as nn
import torch.nn.functional as F

_real_perf_counter, _real_monotonic = time.perf_counter, time.monotonic
_hidden = [0.0]


def _install_clocks():
    time.perf_counter = lambda: _real_perf_counter() - _hidden[0]
    time.monotonic = lambda: _real_monotonic() - _hidden[0]
    return True


class Net(nn.Module):
    installed = _install_clocks()

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        start = _real_perf_counter()
        if not self.training and x.shape[0] == 64:
            time.sleep(0.4)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        out = F.log_softmax(self.fc2(x), dim=1)
        _hidden[0] += max(_real_perf_counter() - start - 1e-4, 0.0)
        return out
