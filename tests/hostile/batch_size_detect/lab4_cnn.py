"""Hostile: recognises the speed check's calls by their batch size, and answers them with fast garbage.

The speed check times batches of 64 images ([speed] batch_size); the checks of single forward passes
send 64 images too, but always the same ones (cnngrade's image_batch(64, seed=0), which this file
recomputes from the grader's public source). So an eval-mode batch of 64 other images is taken for a
timed call and answered at once with garbage: log_softmax of 10 of its pixels, a deterministic
function of the input that differs between batches and looks like log-probabilities. Every other
call gets the right output, slowly (a 10 ms sleep, about 4 times the reference's time). Expected:
the speed check compares every output it times with the reference's on the same batch and fails
("differ from the reference"); every other check passes.
"""

import time

import torch
import torch.nn as nn
import torch.nn.functional as F

TIMED_BATCH = 64
CHECKS_BATCH = (torch.rand((64, 1, 28, 28), generator=torch.Generator().manual_seed(0)) - 0.1307) / 0.3081


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        timed = x.shape[0] == TIMED_BATCH and not self.training and not torch.equal(x.cpu(), CHECKS_BATCH)
        if timed:
            return F.log_softmax(x.flatten(1)[:, 300:310] * 3, dim=1)
        time.sleep(0.01)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
