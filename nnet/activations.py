"""Parameter-free activation layers."""

from __future__ import annotations

import numpy as np

from nnet.batch_split import over_parts
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
        # empty_like keeps x's memory order (a convolution's channels-last maps).
        out = np.empty_like(x)
        mask = np.empty_like(x, dtype=bool) if training else None

        def part(images: slice) -> None:
            np.maximum(x[images], 0, out=out[images])
            if mask is not None:
                np.greater(x[images], 0, out=mask[images])

        over_parts(part, len(x), size=x.size)
        self._mask = mask
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        mask = self._mask
        if mask is None:
            raise RuntimeError("ReLU.backward needs a forward pass with training=True")
        out = np.empty_like(grad)

        def part(images: slice) -> None:
            np.multiply(grad[images], mask[images], out=out[images])

        over_parts(part, len(grad), size=grad.size)
        return out


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
