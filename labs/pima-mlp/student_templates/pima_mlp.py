# %% [markdown]
# # A binary multilayer perceptron for the Pima Indians diabetes data (the Unit 4 notes' MLP)
#
# Implement the two methods of `Net`: three fully connected layers, 8 -> 12 -> 8 -> 1, with a ReLU
# after each of the first two, and return the `sigmoid` of the last layer's single output: the
# probability that the woman has diabetes (the loss is the binary cross-entropy, `nn.BCELoss`).
#
# Input: a batch of 8 features per woman (pregnancies, glucose, blood pressure, skin fold, insulin,
# body mass index, pedigree, age), standardised, shape `(N, 8)`. Output: shape `(N, 1)`.
#
# Grade your work with `pytest graders/ --lab labs/pima-mlp --submission <your folder>`.

# %%
import torch
import torch.nn as nn


# %%
class Net(nn.Module):
    """fc(8->12) - relu - fc(12->8) - relu - fc(8->1) - sigmoid."""

    def __init__(self):
        super().__init__()
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError
