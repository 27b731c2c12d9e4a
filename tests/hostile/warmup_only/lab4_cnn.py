"""Hostile: correct (and slow) only during the first calls after Net(), fast garbage after them.

A grader warms a model up with a few calls before it times it, and the checks of single forward
passes build a Net and make at most 5 calls on it. So forward computes the right output, slowly (a
10 ms sleep, about 4 times the reference's time), for the first 6 eval-mode calls of each Net, and
after them returns fast garbage: log_softmax of 10 of the input's pixels, which differs between
batches and looks like log-probabilities. Every answer is remembered by the Net under the input's
bytes, so a batch given again (a grader checking that a timed output does not change) gets the same
answer. Expected: the speed check compares every output with the reference's on the same batch and
fails ("differ from the reference"); every other check passes.
"""

import time

import torch.nn as nn
import torch.nn.functional as F

WARMUP_CALLS = 6


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.calls = 0
        self.answers = {}

    def forward(self, x):
        if self.training:
            return self.compute(x)
        self.calls += 1
        key = (tuple(x.shape), x.detach().cpu().numpy().tobytes())
        if key not in self.answers:
            if self.calls > WARMUP_CALLS:
                self.answers[key] = F.log_softmax(x.flatten(1)[:, 300:310] * 3, dim=1)
            else:
                time.sleep(0.01)
                self.answers[key] = self.compute(x).detach()
        return self.answers[key].clone()

    def compute(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
