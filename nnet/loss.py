"""Softmax with categorical cross-entropy, fused: the gradient is (p - y) / N."""

from __future__ import annotations

import numpy as np


class SoftmaxCrossEntropy:
    def __init__(self) -> None:
        self._probs: np.ndarray | None = None
        self._labels: np.ndarray | None = None

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """Mean loss over the batch; `labels` are class indices.

        Computed from the log-sum-exp rather than log(softmax) so that a very
        confident wrong answer gives a large finite loss, not inf.
        """
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        rows = np.arange(len(labels))
        losses = np.log(sums[:, 0]) - shifted[rows, labels]
        exp /= sums
        self._probs, self._labels = exp, labels
        return float(losses.mean())

    def backward(self) -> np.ndarray:
        if self._probs is None or self._labels is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward needs a forward pass first")
        grad = self._probs
        grad[np.arange(len(self._labels)), self._labels] -= 1.0
        grad /= len(self._labels)
        self._probs = None
        return grad

    @property
    def probabilities(self) -> np.ndarray | None:
        """The softmax of the last forward pass, until backward consumes it."""
        return self._probs
