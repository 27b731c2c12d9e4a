# Buggy: a first hidden layer of 128 units instead of 64 (parameter count, architecture).
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
        ### BEGIN SOLUTION
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 64)
        self.fc4 = nn.Linear(64, 10)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = F.relu(self.fc3(x))
        x = self.fc4(x)
        return F.log_softmax(x, dim=1)
        ### END SOLUTION
