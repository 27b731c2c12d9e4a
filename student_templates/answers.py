# %% [markdown]
# # Lab 4: questions
#
# Answer each question by assigning its constant. Compute answers with your own `pooling.py`
# and `conv_math.py` where you can (import them: `from pooling import max_pool2d`); a number,
# a list or a string is fine. The comment above each constant is the question.

# %%
import torch
from conv_math import conv2d_param_count, conv2d_unfold, conv_output_size, linear_param_count
from pooling import avg_pool2d, max_pool2d

#: The 4x4 input of question 6 (COMP4660 Lab 4).
Q6_INPUT = torch.tensor([[4.0, 3, 5, 1], [2, 1, 3, 1], [1, 1, 2, 3], [0, 0, 1, 2]])

#: Question 6a: the output of 2x2 max pooling with stride 2 on Q6_INPUT, as a list, row by row.
Q6A_MAX_POOL = None  # TODO: your answer

#: Question 6b: the output of 2x2 average pooling with stride 2 on Q6_INPUT, as a list, row by row.
Q6B_AVG_POOL = None  # TODO: your answer

#: The 6x6 matrix of the workshop's pooling exercises.
WORKSHOP_MATRIX = torch.tensor([
    [3.0, 4, 2, 5, 3, 4],
    [3, 3, 2, 3, 3, 3],
    [3, 4, 2, 3, 3, 2],
    [3, 3, 2, 2, 3, 3],
    [3, 4, 2, 2, 2, 3],
    [2, 3, 2, 2, 2, 4],
])

#: Workshop: 2x2 max pooling with stride 2 on WORKSHOP_MATRIX, as a 3x3 nested list.
WORKSHOP_MAX_POOL_2 = None  # TODO: your answer

#: Workshop: 2x2 average pooling with stride 2 on WORKSHOP_MATRIX, as a 3x3 nested list.
WORKSHOP_AVG_POOL_2 = None  # TODO: your answer

#: Workshop: 3x3 max pooling with stride 3 on WORKSHOP_MATRIX, as a 2x2 nested list.
WORKSHOP_MAX_POOL_3 = None  # TODO: your answer

#: Workshop: 3x3 average pooling with stride 3 on WORKSHOP_MATRIX, as a 2x2 nested list.
WORKSHOP_AVG_POOL_3 = None  # TODO: your answer

#: The workshop's convolution example: a 3x3 image window and a 3x3 filter.
CONV_WINDOW = torch.tensor([[1.0, 1, 1], [0, 1, 1], [0, 0, 0]])
CONV_FILTER = torch.tensor([[1.0, 1, 1], [0, 0, 0], [1, 1, 1]])

#: Workshop: the output of convolving CONV_WINDOW with CONV_FILTER (one number).
WORKSHOP_CONV_OUTPUT = None  # TODO: your answer

#: Project report: parameters of its first layer, Conv2d(3, 256, kernel_size=3), on RGB input
#: (the report's prose says 1,768; check it).
REPORT_CONV1_PARAMS_RGB = None  # TODO: your answer

#: Project report: parameters of the same first layer with 1 input channel (greyscale).
REPORT_CONV1_PARAMS_GREY = None  # TODO: your answer

#: Project report: the total number of parameters of its network (256x256 RGB input, 6 classes):
#: conv 3->256 k3 p1, pool 2, conv 256->128 k3 p1, pool 2, conv 128->64 k3, pool 2, flatten,
#: fc 61504->256, fc 256->128, fc 128->6 (dropout layers have no parameters).
REPORT_TOTAL_PARAMS = None  # TODO: your answer

#: Project report: the name of the layer with the most parameters ("conv1", "conv2", "conv3",
#: "fc1", "fc2" or "fc3").
REPORT_LARGEST_LAYER = None  # TODO: your answer

#: Project report: the output shape (channels, height, width) after conv1, pool1, conv2, pool2,
#: conv3 and pool3, for a 3x256x256 input, as a list of 6 lists.
REPORT_SHAPES = None  # TODO: your answer

#: Project report's worked example: the first convolution's 4x4 output.
REPORT_CONV_OUTPUT = torch.tensor([
    [0.2491, -0.1648, 0.2652, -0.3406],
    [0.1089, 0.3092, -0.1129, -0.1432],
    [-0.2178, 0.6069, -0.0462, -0.3231],
    [-0.3294, 0.4757, -0.2673, 0.1892],
])

#: Project report: 2x2 max pooling with stride 2 on REPORT_CONV_OUTPUT, as a 2x2 nested list.
REPORT_MAX_POOL = None  # TODO: your answer

#: Project report: the sigmoid of that max-pooling output, as a 2x2 nested list.
REPORT_SIGMOID = None  # TODO: your answer

#: Parameters of the DPS921 wiki's MLP: Linear 784->64, 64->64, 64->64, 64->10.
WIKI_MLP_PARAMS = None  # TODO: your answer

#: Parameters of this lab's Net: conv 1->10 k5, conv 10->20 k5, fc 320->50, fc 50->10.
LAB_NET_PARAMS = None  # TODO: your answer

#: Parameters of the Unit 4 notes' CIFAR-10 CNN: conv 3->32 k3 p1, conv 32->32 k3 p1, max pool 2,
#: flatten, Linear 8192->512, Linear 512->10.
NOTES_CIFAR_CNN_PARAMS = None  # TODO: your answer

#: Parameters of the Unit 4 notes' MLP: Linear 8->12, 12->8, 8->1 (ReLU, ReLU, Sigmoid).
NOTES_MLP_PARAMS = None  # TODO: your answer

#: Why does the CIFAR-10 CNN's first Linear layer have 8192 inputs? Give the (channels, height,
#: width) of the tensor that Flatten receives for a 3x32x32 image, as a list of 3 numbers.
NOTES_FLATTEN_SHAPE = None  # TODO: your answer
