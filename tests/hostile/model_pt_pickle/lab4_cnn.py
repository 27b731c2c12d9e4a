"""Hostile: a correct Net shipped with a model.pt whose pickle runs a shell command when loaded.

model.pt is a torch checkpoint whose data.pkl calls os.system (REDUCE of posix.system) to touch
/tmp/cnngrade-hostile-model-pt-ran. A grader that torch.load()s it with weights_only=False runs
the command. Expected: the payload never runs in the grader (weights_only loading refuses it), the
trained-model check fails with "cannot be loaded", and the other checks pass.
"""

import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
