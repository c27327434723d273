"""Parameter-free activation layers."""

from __future__ import annotations

import numpy as np

from nnet.layer import Layer


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so exp never overflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


class ReLU(Layer):
    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        if training:
            self._mask = x > 0
        return np.maximum(x, 0)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        if self._mask is None:
            raise RuntimeError("ReLU.backward needs a forward pass with training=True")
        return grad * self._mask


class Softmax(Layer):
    """A standalone softmax. For training, `SoftmaxCrossEntropy` fuses it with the loss."""

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        out = softmax(np.array(x, copy=True))
        self._out = out if training else None
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        if self._out is None:
            raise RuntimeError("Softmax.backward needs a forward pass with training=True")
        s = self._out
        return s * (grad - np.sum(grad * s, axis=1, keepdims=True))
