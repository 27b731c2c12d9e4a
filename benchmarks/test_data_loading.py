"""Bundled uint8 batches against torchvision datasets + DataLoader + ToTensor (Fashion-MNIST).

Run: ``./run bench -k data``; compare the two groups' means. The torchvision side needs the
Fashion-MNIST IDX files (Debian's dataset-fashion-mnist, or a --data-root with them).
"""

from __future__ import annotations

import gzip
import shutil

import pytest
import torch
import torch.nn.functional as F

from cnngrade.data import DatasetNotFound, load_dataset
from cnngrade.data.datasets import DEBIAN_FASHION_MNIST_DIR
from cnngrade.submission.training import Recipe, fit

BATCH = 64


@pytest.fixture(scope="module")
def fashion():
    try:
        return load_dataset("fashion-mnist")
    except DatasetNotFound as exc:
        pytest.skip(str(exc).splitlines()[0])


@pytest.fixture(scope="module")
def torchvision_fashion(tmp_path_factory, fashion):
    from torchvision import datasets, transforms

    raw = tmp_path_factory.mktemp("tv") / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for path in DEBIAN_FASHION_MNIST_DIR.glob("*.gz"):
        with gzip.open(path) as src, open(raw / path.name.removesuffix(".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    return datasets.FashionMNIST(raw.parents[1], train=True, transform=transform, download=False)


@pytest.mark.benchmark(group="iterate one epoch")
def test_iterate_bundled_batches(benchmark, fashion):
    train, _ = fashion
    benchmark.pedantic(lambda: sum(len(y) for _, y in train.batches(BATCH, shuffle=True, seed=0)),
                       rounds=3, iterations=1)


@pytest.mark.benchmark(group="iterate one epoch")
def test_iterate_torchvision_dataloader(benchmark, torchvision_fashion):
    loader = torch.utils.data.DataLoader(torchvision_fashion, batch_size=BATCH, shuffle=True)
    benchmark.pedantic(lambda: sum(len(y) for _, y in loader), rounds=1, iterations=1)


def _train_epoch(model, batches) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    model.train()
    for x, y in batches:
        optimizer.zero_grad()
        F.nll_loss(model(x), y).backward()
        optimizer.step()


@pytest.mark.benchmark(group="train one epoch of the lab Net")
def test_train_epoch_bundled(benchmark, fashion, reference_net):
    train, _ = fashion
    benchmark.pedantic(lambda: _train_epoch(reference_net, train.batches(BATCH, shuffle=True, seed=0)),
                       rounds=1, iterations=1)


@pytest.mark.benchmark(group="train one epoch of the lab Net")
def test_train_epoch_torchvision(benchmark, torchvision_fashion, reference_net):
    loader = torch.utils.data.DataLoader(torchvision_fashion, batch_size=BATCH, shuffle=True)
    benchmark.pedantic(lambda: _train_epoch(reference_net, loader), rounds=1, iterations=1)


@pytest.mark.benchmark(group="harness recipe")
def test_training_samples_per_second(benchmark, bundled, reference_net):
    train, _ = bundled
    recipe = Recipe(epochs=1)
    benchmark.extra_info["samples"] = len(train)
    benchmark.pedantic(lambda: fit(reference_net, train.images, train.labels, recipe), rounds=2, iterations=1)
