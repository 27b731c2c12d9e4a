"""Hostile: downloads "pretrained weights" from the internet when Net() is built.

It tries a DNS name and a bare IP address (so that it does not depend on DNS). If a download
worked it would load whatever it got. Isolated: the child has no network (a fresh network
namespace with only loopback), so Net() fails with "no network".
"""

import socket
import urllib.request

import torch.nn as nn
import torch.nn.functional as F

SOURCES = ("https://download.pytorch.org/models/lab4_cnn_pretrained.pt", "http://151.101.0.223/lab4.pt")


def _download():
    problems = []
    for url in SOURCES:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read(1 << 20)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{url}: {type(exc).__name__}")
    try:
        socket.create_connection(("151.101.0.223", 80), timeout=5).close()
        return b""
    except OSError as exc:
        problems.append(f"151.101.0.223:80: {exc}")
    raise RuntimeError("no network for the pretrained weights: " + "; ".join(problems))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pretrained = _download()
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
