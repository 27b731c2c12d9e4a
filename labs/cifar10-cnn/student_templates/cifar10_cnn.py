# %% [markdown]
# # A CNN for CIFAR-10 (the Deep Learning Unit 4 notes' network)
#
# Implement the two methods of `CifarNet`, the network of the Unit 4 notes, layer by layer:
#
# | layer | what it does | output shape |
# |---|---|---|
# | `conv1` | `nn.Conv2d(3, 32, kernel_size=3, stride=1, padding=1)`, ReLU, `nn.Dropout(0.3)` | (N, 32, 32, 32) |
# | `conv2` | `nn.Conv2d(32, 32, kernel_size=3, stride=1, padding=1)`, then ReLU | (N, 32, 32, 32) |
# | `pool` | `nn.MaxPool2d(kernel_size=2)` | (N, 32, 16, 16) |
# | flatten | `torch.flatten(x, 1)`: 32 * 16 * 16 = 8192 values per image | (N, 8192) |
# | `fc3` | `nn.Linear(8192, 512)`, then ReLU, then `nn.Dropout(0.5)` | (N, 512) |
# | `fc4` | `nn.Linear(512, 10)`: one raw score (logit) per class | (N, 10) |
#
# Return the raw class scores: the loss is `nn.CrossEntropyLoss` (`F.cross_entropy`), which applies
# the log-softmax itself. Input: a batch of colour images, shape `(N, 3, 32, 32)`, each channel
# normalised with mean 0.5 and standard deviation 0.5.
#
# Keep this file's name, `cifar10_cnn.py`, and the class name `CifarNet`: the graders import them.
# Grade your work from the project's folder (the one holding `graders/` and `labs/`):
# `pytest graders/ --lab labs/cifar10-cnn --submission FOLDER`, where FOLDER holds your
# `cifar10_cnn.py`.

# %%
import torch
import torch.nn as nn
import torch.nn.functional as F


# %%
class CifarNet(nn.Module):
    """conv(3->32) - relu - dropout(0.3) - conv(32->32) - relu - maxpool(2) - flatten(8192) -
    fc(8192->512) - relu - dropout(0.5) - fc(512->10), raw class scores."""

    def __init__(self):
        super().__init__()
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError
