"""Split: uint8 storage, per-batch normalisation equal to torchvision's transforms, batching by indexing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnngrade.data import MNIST_MEAN, MNIST_STD, Split, normalize


def make_split(n: int = 10, seed: int = 0) -> Split:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    return Split("toy", images, torch.arange(n) % 10)


def test_normalize_matches_torchvision_transforms() -> None:
    from PIL import Image
    from torchvision import transforms

    split = make_split(4)
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    expected = torch.stack([pipeline(Image.fromarray(img.numpy(), mode="L")) for img in split.images])
    got = normalize(split.images)
    assert got.shape == (4, 1, 28, 28) and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert (MNIST_MEAN, MNIST_STD) == (0.1307, 0.3081)


def test_normalize_does_not_touch_the_stored_images() -> None:
    split = make_split(3)
    before = split.images.clone()
    for _ in split.batches(2):
        pass
    split.normalized()
    assert torch.equal(split.images, before) and split.images.dtype == torch.uint8


def test_batches_in_order_cover_everything_with_a_short_last_batch() -> None:
    split = make_split(10)
    batches = list(split.batches(4))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert split.num_batches(4) == 3 and split.num_batches(4, drop_last=True) == 2
    images = torch.cat([x for x, _ in batches])
    labels = torch.cat([y for _, y in batches])
    assert images.shape == (10, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and labels.tolist() == split.labels.tolist()
    torch.testing.assert_close(images, normalize(split.images))
    assert [len(y) for _, y in split.batches(4, drop_last=True)] == [4, 4]


def test_shuffle_is_a_seeded_permutation() -> None:
    split = make_split(50)
    first = torch.cat([y for _, y in split.batches(8, shuffle=True, seed=3)])
    again = torch.cat([y for _, y in split.batches(8, shuffle=True, seed=3)])
    other = torch.cat([y for _, y in split.batches(8, shuffle=True, seed=4)])
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert sorted(first.tolist()) == sorted(split.labels.tolist())
    # images and labels stay paired under shuffling
    split = Split(
        "paired",
        torch.arange(20, dtype=torch.uint8).view(20, 1, 1).expand(20, 28, 28).contiguous(),
        torch.arange(20),
    )
    for x, y in split.batches(6, shuffle=True, seed=0):
        pixel = (x[:, 0, 0, 0] * MNIST_STD + MNIST_MEAN) * 255
        torch.testing.assert_close(pixel, y.float(), atol=1e-3, rtol=0)


def test_batches_on_a_device() -> None:
    x, y = next(make_split(5).batches(5, device="cpu"))
    assert x.device.type == "cpu" and y.device.type == "cpu"


def test_validation_subset_and_counts() -> None:
    with pytest.raises(ValueError, match="uint8"):
        Split("bad", torch.zeros(2, 28, 28), torch.zeros(2))
    with pytest.raises(ValueError, match="labels of shape"):
        Split("bad", torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        next(make_split().batches(0))
    split = make_split(20)
    assert split.labels.dtype == torch.int64
    assert split.class_counts() == [2] * 10 and split.num_classes == 10
    sub = split.subset([0, 1, 11], name="few")
    assert len(sub) == 3 and sub.name == "few" and sub.labels.tolist() == [0, 1, 1]
    assert len(split.subset(slice(0, 5))) == 5
    assert "toy" in repr(split) and "20 images" in repr(split)
    assert np.array_equal(sub.images[2].numpy(), split.images[11].numpy())
