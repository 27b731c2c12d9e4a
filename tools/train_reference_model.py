"""Train the reference Net on full MNIST and save ``reference/model.pt`` (a state_dict).

Usage: ``python tools/train_reference_model.py [--epochs 3]``. Full MNIST comes from the user
cache (``cnngrade data fetch mnist`` puts it there; this script fetches it if missing). The
recipe is lab.toml's ``[train]``; the script prints the accuracy on the official test set.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cnngrade.data import DatasetNotFound, fetch_mnist, load_dataset
from cnngrade.grader.accuracy import evaluate
from cnngrade.lab.config import LabConfig
from cnngrade.submission.inprocess import InProcessSubmission
from cnngrade.submission.training import Recipe, fit, predict

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "reference" / "model.pt")
    args = parser.parse_args()
    try:
        train, test = load_dataset("mnist")
    except DatasetNotFound:
        fetch_mnist()
        train, test = load_dataset("mnist")
    settings = LabConfig.load(ROOT / "graders" / "lab.toml").setting("train")
    recipe = Recipe.from_dict({**settings, "epochs": args.epochs, "max_cpu_seconds": 0})
    handle = InProcessSubmission(ROOT / "reference")
    handle.build_net(seed=recipe.seed)
    start = time.perf_counter()
    fit(handle.net, train.images, train.labels, recipe)
    seconds = time.perf_counter() - start
    accuracy = evaluate(predict(handle.net, test.images), test.labels).accuracy
    torch.save(handle.net.state_dict(), args.out)
    print(f"{args.out}: {len(train):,} images x {recipe.epochs} epochs in {seconds:.0f} s, "
          f"test accuracy {accuracy:.2%}")


if __name__ == "__main__":
    main()
