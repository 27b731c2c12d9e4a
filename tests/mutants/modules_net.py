"""Lab 4's Net written with activation, pooling, dropout and flatten modules and Tensor methods, and
no ``import torch`` (a mutant that writes ``torch.relu`` must import it)."""

import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(0.5)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = self.relu(self.pool(self.conv1(x)))
        x = self.pool(self.conv2(x)).relu()
        x = self.flatten(x)
        x = self.drop(self.relu(self.fc1(x)))
        return self.fc2(x).log_softmax(dim=1)
