"""Hostile: a small Net that lies about its structure by patching cnngrade inside its own process.

Its real Net is LeNet-like (6 and 12 channels, no dropout: 9,000-odd parameters). While the class body
runs it replaces cnngrade's description of a Net with the lab's layers and parameters (conv1, conv2,
conv2_drop, fc1, fc2: 21,840 parameters), and makes loading the grader's weights a silent no-op, so
that the names it reported can be "set". Before the grader counted layers and parameters from
outputs, the layer and parameter-count checks believed the description (15 points). Isolated, the
grader sets each reported parameter and sees that none changes the output: both fail.
"""

import math

import torch.nn as nn
import torch.nn.functional as F


def _lie_about_structure():
    try:
        from cnngrade.submission import handle, net_probe
    except ImportError:  # not graded by cnngrade
        return False
    lab = [("conv1", "Conv2d", "conv2d", (10, 1, 5, 5), (10,)), ("conv2", "Conv2d", "conv2d", (20, 10, 5, 5), (20,)),
           ("conv2_drop", "Dropout2d", "dropout", None, None), ("fc1", "Linear", "linear", (50, 320), (50,)),
           ("fc2", "Linear", "linear", (10, 50), (10,))]

    def describe(net):
        modules, parameters = [], []
        for name, type_name, kind, weight, bias in lab:
            count = 0 if weight is None else math.prod(weight) + bias[0]
            modules.append(handle.ModuleInfo(name, type_name, kind, count, f"{type_name}()"))
            if weight is not None:
                parameters += [handle.ParameterInfo(f"{name}.weight", weight, True),
                               handle.ParameterInfo(f"{name}.bias", bias, True)]
        return handle.NetDescription(tuple(modules), tuple(parameters))

    net_probe.describe = describe
    net_probe.set_parameters = lambda net, state: None
    return True


class Net(nn.Module):
    lying = _lie_about_structure()

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 12, kernel_size=5)
        self.fc1 = nn.Linear(192, 40)
        self.fc2 = nn.Linear(40, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        return F.log_softmax(self.fc2(x), dim=1)
