"""Hostile: forward never returns (`while True: pass`).

In-process the grader hangs for ever. Isolated: each forward call is stopped at the per-call
timeout and fails with "timed out"; after a few restarts the child is not started again, so the
remaining checks fail at once. Structure checks, which never call forward, pass.
"""

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
        while True:
            pass
