"""Accuracy of predicted labels against the test labels, which never leave the grading process.

accuracy = mean(predictions == labels); per-class accuracy = diagonal / row sums of the confusion
matrix (rows: true class, columns: predicted).
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


def evaluate(predictions: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> Evaluation:
    """Compare predicted with true labels: accuracy = mean(predictions == labels)."""
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions of shape {tuple(predictions.shape)} for labels of shape {tuple(labels.shape)}: "
                         "check the shape first (one label per image)")
    confusion = torch.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)
    per_class = confusion.diagonal() / confusion.sum(dim=1).clamp(min=1)
    accuracy = float((predictions == labels).float().mean()) if len(labels) else 0.0
    return Evaluation(accuracy, tuple(float(v) for v in per_class), confusion)
