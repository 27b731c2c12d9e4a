"""Accuracy of predicted labels against the test labels, which never leave the grading process.

accuracy = mean(predictions == labels); per-class accuracy = diagonal / row sums of the confusion
matrix (rows: true class, columns: predicted). A binary lab (``classes = 1`` in lab.toml: one output
per input) has two label values, 0 and 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Evaluation:
    """Accuracy, per-class accuracy and the confusion matrix (rows: true class, columns: predicted)."""

    accuracy: float
    per_class: tuple[float, ...]
    confusion: torch.Tensor

    def worst_classes(self, k: int = 3) -> list[tuple[int, float]]:
        ranked = sorted(enumerate(self.per_class), key=lambda item: item[1])
        return ranked[:k]


def label_values(classes: int) -> int:
    """How many label values a lab of ``classes`` (``[net] classes``) has: 2 for a binary lab (1)."""
    return 2 if classes == 1 else classes


def evaluate(predictions: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> Evaluation:
    """Compare predicted with true labels: accuracy = mean(predictions == labels). ``classes`` is the
    lab's (1: binary, labels 0 and 1); a prediction that is no label value counts as wrong and is left
    out of the confusion matrix."""
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions of shape {tuple(predictions.shape)} for labels of shape {tuple(labels.shape)}: "
                         "check the shape first (one label per input)")
    classes = label_values(classes)
    valid = (predictions >= 0) & (predictions < classes)
    cells = labels[valid] * classes + predictions[valid]
    confusion = torch.bincount(cells, minlength=classes * classes).reshape(classes, classes)
    per_class = confusion.diagonal() / confusion.sum(dim=1).clamp(min=1)
    accuracy = float((predictions == labels).float().mean()) if len(labels) else 0.0
    return Evaluation(accuracy, tuple(float(v) for v in per_class), confusion)
