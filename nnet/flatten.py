"""Flatten (N, C, H, W) feature maps into (N, C*H*W) rows for the dense layers.

The order is NCHW's, whatever the memory layout, so a dense layer's weights
mean the same thing however the convolution below it stored its output.
"""

from __future__ import annotations

import numpy as np

from nnet.layer import Layer


class Flatten(Layer):
    def __init__(self) -> None:
        super().__init__()
        self._in_shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        self._in_shape = x.shape if training else None
        return x.reshape(len(x), -1)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        if self._in_shape is None:
            raise RuntimeError("Flatten.backward needs a forward pass with training=True")
        return grad.reshape(self._in_shape)
