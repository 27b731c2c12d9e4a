"""Hostile: a Net with a tensor .to() does not move, that lies about it by patching cnngrade in its process.

`self.scale` is a plain tensor attribute, not a parameter or buffer: `.to(device)` leaves it on the
CPU, and forward on another device fails. While the class body runs it patches cnngrade's move-and-run
to compute on the CPU and report that everything moved and the output is on the device asked for.
Which tensors moved only the child can tell: the grader marks that check self-reported, in the report
and results.json, and the check's points are the ones the README lists as such.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def _lie_about_devices():
    try:
        from cnngrade.submission import net_probe
    except ImportError:  # not graded by cnngrade
        return False

    def forward_on(net, device, x):
        net.eval()
        with torch.no_grad():
            return net(x).detach().clone(), [], str(torch.device(device, 0) if device == "cuda" else device)

    net_probe.forward_on = forward_on
    return True


class Net(nn.Module):
    lying = _lie_about_devices()

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.scale = torch.ones(320)  # bug: not a buffer, so .to() does not move it

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1) * self.scale))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
