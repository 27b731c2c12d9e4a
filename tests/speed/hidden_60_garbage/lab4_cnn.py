"""Speed test submission: hidden_60's Net (60 hidden units: the grader cannot reproduce it), right and
slow (a 10 ms sleep) for the first 6 eval-mode calls of each Net, fast garbage after them (log_softmax
of 10 of the input's pixels: it differs between batches and looks like log-probabilities). Expected:
the speed check compares every timed output with a fresh Net's output for the same batch, untimed,
and fails it ("differ from what it computes otherwise")."""
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
        self.fc1 = nn.Linear(320, 60)
        self.fc2 = nn.Linear(60, 10)
        self.calls = 0

    def forward(self, x):
        if not self.training:
            self.calls += 1
            if self.calls > WARMUP_CALLS:
                return F.log_softmax(x.flatten(1)[:, 300:310] * 3, dim=1)
            time.sleep(0.01)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
