"""Hostile: the right layers and the right output shape, filled with random numbers.

forward ignores its input and returns torch.randn(N, 10). Expected: the shape checks pass, and
the checks on values fail: not log-softmax ("raw scores"), not deterministic in eval mode, no
parameter changes the output (so no layer or parameter counts) and none gets a gradient.
"""

import torch
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
        return torch.randn(x.shape[0], 10)
