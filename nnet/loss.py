"""Softmax with categorical cross-entropy, fused: the gradient is (p - y) / N."""

from __future__ import annotations

import numpy as np


class SoftmaxCrossEntropy:
    def __init__(self) -> None:
        self._probs: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._weights: np.ndarray | None = None

    def forward(
        self, logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
    ) -> float:
        """Mean loss over the batch; `labels` are class indices.

        `weights` scale each example's share (a user's correction may count more
        than a stock image); the mean is still over the batch size, as Keras does,
        so weights of 1 change nothing.

        Computed from the log-sum-exp rather than log(softmax) so that a very
        confident wrong answer gives a large finite loss, not inf.
        """
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        rows = np.arange(len(labels))
        losses = np.log(sums[:, 0]) - shifted[rows, labels]
        exp /= sums
        self._probs, self._labels, self._weights = exp, labels, weights
        if weights is not None:
            losses *= weights
        return float(losses.mean())

    def backward(self) -> np.ndarray:
        if self._probs is None or self._labels is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward needs a forward pass first")
        grad = self._probs
        grad[np.arange(len(self._labels)), self._labels] -= 1.0
        if self._weights is not None:
            grad *= self._weights[:, None]
        grad /= len(self._labels)
        self._probs = self._weights = None
        return grad

    @property
    def probabilities(self) -> np.ndarray | None:
        """The softmax of the last forward pass, until backward consumes it."""
        return self._probs
