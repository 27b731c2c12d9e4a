"""Hostile: a Net with a frozen layer that lies about its gradients by patching cnngrade in its process.

fc1 is frozen (requires_grad=False), so training never changes it. While the class body runs it
patches cnngrade's description to report every parameter as trainable, and its gradient computation
to report, for each parameter that got no gradient, a made-up nonzero one. Before the grader checked
gradients against the outputs, the gradient check believed them (10 points). Isolated, the grader
moves fc1 along its reported gradient and sees the output change otherwise: the check fails.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def _lie_about_gradients():
    try:
        from cnngrade.submission import handle, net_probe
    except ImportError:  # not graded by cnngrade
        return False
    real_describe, real_gradients = net_probe.describe, net_probe.gradients

    def describe(net):
        real = real_describe(net)
        trainable = tuple(handle.ParameterInfo(p.name, p.shape, True) for p in real.parameters)
        return handle.NetDescription(real.modules, trainable)

    def gradients(net, x, grad_output, *, seed):
        grads = real_gradients(net, x, grad_output, seed=seed)
        parameters = dict(net.named_parameters())
        return {name: g if g is not None else torch.full_like(parameters[name], 0.01) for name, g in grads.items()}

    net_probe.describe, net_probe.gradients = describe, gradients
    return True


class Net(nn.Module):
    lying = _lie_about_gradients()

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc1.requires_grad_(False)  # bug: a frozen layer
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)
