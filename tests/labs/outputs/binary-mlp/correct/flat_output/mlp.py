"""Correct: returns one probability per input as shape (N,), not (N, 1)."""

import torch
import torch.nn as nn


class Net(nn.Module):
    """fc(8->12) - relu - fc(12->8) - relu - fc(8->1) - sigmoid: the probability of class 1."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 12)
        self.fc2 = nn.Linear(12, 8)
        self.fc3 = nn.Linear(8, 1)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return torch.sigmoid(self.fc3(x)).squeeze(1)
