# %% [markdown]
# # The final project report's CNN: 6 classes of 256x256 colour images
#
# Implement the two methods of `ReportCNN`, the network of the report's layer table:
#
# | layer | output shape | parameters |
# | --- | --- | ---: |
# | conv 3->256, 3x3, padding 1; ReLU | (256, 256, 256) | 7,168 |
# | max pool 2x2; dropout 0.25 | (256, 128, 128) | 0 |
# | conv 256->128, 3x3, padding 1; ReLU | (128, 128, 128) | 295,040 |
# | max pool 2x2; dropout 0.25 | (128, 64, 64) | 0 |
# | conv 128->64, 3x3, no padding; ReLU | (64, 62, 62) | 73,792 |
# | max pool 2x2; flatten | (61504,) | 0 |
# | fully connected 61504->256; ReLU | (256,) | 15,745,280 |
# | fully connected 256->128; ReLU | (128,) | 32,896 |
# | fully connected 128->6; log_softmax | (6,) | 774 |
#
# 16,154,950 parameters in all. Input: a batch of RGB images, shape `(N, 3, 256, 256)`.
# Output: shape `(N, 6)`, log-probabilities (`log_softmax` over dim 1).
#
# Grade your work with `pytest graders/ --lab labs/report-cnn --submission <your folder>`.

# %%
import torch.nn as nn
import torch.nn.functional as F


# %%
class ReportCNN(nn.Module):
    """conv(3->256) - relu - pool - dropout - conv(256->128) - relu - pool - dropout - conv(128->64)
    - relu - pool - flatten - fc(61504->256) - relu - fc(256->128) - relu - fc(128->6) - log_softmax."""

    def __init__(self):
        super().__init__()
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError
