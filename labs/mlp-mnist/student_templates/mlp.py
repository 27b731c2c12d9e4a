# %% [markdown]
# # A multilayer perceptron for MNIST (the DPS921 wiki's `Net`)
#
# Implement the two methods of `Net`: four fully connected layers, 784 -> 64 -> 64 -> 64 -> 10,
# with a ReLU after each of the first three, and return the `log_softmax` of the 10 class
# scores over dim 1 (the loss is the negative log likelihood, `F.nll_loss`).
#
# Input: a batch of greyscale images, shape `(N, 1, 28, 28)`: flatten each image to 784 values
# first. Output: shape `(N, 10)`.
#
# Grade your work with `pytest graders/ --lab labs/mlp-mnist --submission <your folder>`.

# %%
import torch
import torch.nn as nn
import torch.nn.functional as F


# %%
class Net(nn.Module):
    """fc(784->64) - relu - fc(64->64) - relu - fc(64->64) - relu - fc(64->10) - log_softmax."""

    def __init__(self):
        super().__init__()
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError
