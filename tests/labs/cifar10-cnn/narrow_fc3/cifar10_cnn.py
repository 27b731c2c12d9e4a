"""Bug: fc3 has 256 units, not 512 (and fc4 takes 256)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class CifarNet(nn.Module):
    """conv(3->32) - relu - dropout(0.3) - conv(32->32) - relu - maxpool(2) - flatten(8192) -
    fc(8192->512) - relu - dropout(0.5) - fc(512->10), raw class scores."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, stride=1, padding=1)
        self.drop1 = nn.Dropout(0.3)
        self.conv2 = nn.Conv2d(32, 32, kernel_size=3, stride=1, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.fc3 = nn.Linear(8192, 256)
        self.drop3 = nn.Dropout(0.5)
        self.fc4 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.drop1(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.drop3(F.relu(self.fc3(x)))
        return self.fc4(x)
