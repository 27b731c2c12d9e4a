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
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(3, 256, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(256, 128, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(128, 64, kernel_size=3)
        self.drop = nn.Dropout(0.25)
        self.fc1 = nn.Linear(61504, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 6)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = self.drop(F.max_pool2d(F.relu(self.conv1(x)), 2))
        x = self.drop(F.max_pool2d(F.relu(self.conv2(x)), 2))
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)
        ### END SOLUTION
