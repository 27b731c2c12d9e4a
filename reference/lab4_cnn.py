# %% [markdown]
# # Lab 4, task 1: a convolutional neural network for MNIST
#
# Implement the two methods of `Net` (`__init__` and `forward`): two convolutional layers
# followed by a dropout, then two fully connected layers. Use a ReLU after each hidden layer
# and a dropout after the first fully connected layer, and return the `log_softmax` of the
# 10 class scores (the loss is the negative log likelihood, `F.nll_loss`).
#
# Input: a batch of greyscale images, shape `(N, 1, 28, 28)`. Output: shape `(N, 10)`.
#
# Run the script with `python3 lab4_cnn.py --help` to see its 8 options; grade your work with
# `pytest graders/ --submission <your folder>`.
#
# Working in this notebook? It holds only `Net`. Hand in one folder holding this notebook and the
# lab's other files from `student_templates/`, filled in: `pooling.py`, `conv_math.py` and
# `answers.py` (the notebook supplies only what those files lack). Grade the folder:
# `pytest graders/ --submission <your folder>`.

# %%
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torchvision import datasets, transforms


# %%
class Net(nn.Module):
    """The lab CNN: conv(1->10, k5) - pool - relu - conv(10->20, k5) - dropout - pool - relu
    - fc(320->50) - relu - dropout - fc(50->10) - log_softmax."""

    def __init__(self):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)
        ### END SOLUTION


# %%
def train(args, model, device, train_loader, optimizer, epoch):
    """One epoch of SGD on the training set, logging every `args.log_interval` batches."""
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print(
                f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                f"({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item():.6f}"
            )


def test(model, device, test_loader):
    """Average loss and accuracy on the test set."""
    model.eval()
    test_loss = 0.0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1)
            correct += pred.eq(target).sum().item()
    n = len(test_loader.dataset)
    test_loss /= n
    print(f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{n} ({100.0 * correct / n:.2f}%)\n")
    return correct / n


# %%
def main(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch MNIST CNN (COMP4660/8420 Lab 4)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N",
                        help="input batch size for training (default: 64)")
    parser.add_argument("--test-batch-size", type=int, default=1000, metavar="N",
                        help="input batch size for testing (default: 1000)")
    parser.add_argument("--epochs", type=int, default=10, metavar="N",
                        help="number of epochs to train (default: 10)")
    parser.add_argument("--lr", type=float, default=0.01, metavar="LR",
                        help="learning rate (default: 0.01)")
    parser.add_argument("--momentum", type=float, default=0.5, metavar="M",
                        help="SGD momentum (default: 0.5)")
    parser.add_argument("--no-cuda", action="store_true", default=False,
                        help="disables CUDA training")
    parser.add_argument("--seed", type=int, default=1, metavar="S",
                        help="random seed (default: 1)")
    parser.add_argument("--log-interval", type=int, default=100, metavar="N",
                        help="how many batches to wait before logging training status (default: 100)")
    args = parser.parse_args(argv)

    use_cuda = not args.no_cuda and torch.cuda.is_available()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if use_cuda else "cpu")
    loader_options = {"num_workers": 1, "pin_memory": True} if use_cuda else {}
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_loader = torch.utils.data.DataLoader(
        datasets.MNIST("../data", train=True, download=True, transform=transform),
        batch_size=args.batch_size, shuffle=True, **loader_options)
    test_loader = torch.utils.data.DataLoader(
        datasets.MNIST("../data", train=False, transform=transform),
        batch_size=args.test_batch_size, shuffle=True, **loader_options)

    model = Net().to(device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(model, device, test_loader)


if __name__ == "__main__":
    main()
