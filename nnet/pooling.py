"""Max pooling over NCHW batches.

The common 2x2, stride 2 case is a two-round tournament on channels-last
memory: the maximum of each pair of image rows, then of each pair of columns
of that, recording both choices for backward as boolean arrays. Other window
sizes gather windows with stride tricks. Either way the gradient goes to
exactly one input per window, so ties never double a gradient.

Gradients come back channels-last in memory (see nnet.conv), as NCHW views.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnet.batch_split import over_parts
from nnet.layer import Layer


class MaxPool2D(Layer):
    def __init__(self, pool_size: int = 2, *, stride: int | None = None) -> None:
        super().__init__()
        self.pool_size = int(pool_size)
        self.stride = int(stride) if stride is not None else self.pool_size
        if self.pool_size < 1 or self.stride < 1:
            raise ValueError(f"pool size and stride must be >= 1, got {pool_size}, {stride}")
        self._winners: tuple[np.ndarray, ...] | None = None
        self._in_shape: tuple[int, ...] | None = None

    def _fast(self, H: int, W: int) -> bool:
        return self.pool_size == self.stride == 2 and H % 2 == 0 and W % 2 == 0

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        H, W = x.shape[2:]
        self._in_shape = x.shape if training else None
        self._winners = None
        if self._fast(H, W):
            return self._forward_2x2(x, training=training)
        return self._forward_windows(x, training=training)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        if self._winners is None or self._in_shape is None:
            raise RuntimeError("MaxPool2D.backward needs a forward pass with training=True")
        H, W = self._in_shape[2:]
        g = grad.transpose(0, 2, 3, 1)  # (N, Ho, Wo, C)
        if self._fast(H, W):
            return self._backward_2x2(g, self._in_shape, self._winners)
        return self._backward_windows(g, self._in_shape, self._winners[0])

    # --- 2x2, stride 2 ------------------------------------------------------------

    def _forward_2x2(self, x: np.ndarray, *, training: bool) -> np.ndarray:
        N, C, H, W = x.shape
        # Channels-last rows (a free view of nnet.conv's output): image rows 2i and
        # 2i+1 are each one contiguous run of W*C values, so the first round runs
        # over long runs; the second round (left against right) is on half the data.
        rows = x.transpose(0, 2, 3, 1).reshape(N, H // 2, 2, W * C)
        out = np.empty((N, H // 2, W // 2, C), dtype=x.dtype)
        lower = np.empty((N, H // 2, W * C), dtype=bool) if training else None
        right = np.empty((N, H // 2, W // 2, C), dtype=bool) if training else None

        def part(images: slice) -> None:
            top, bottom = rows[images, :, 0], rows[images, :, 1]
            column = np.maximum(top, bottom).reshape(-1, H // 2, W // 2, 2, C)
            left, right_ = column[:, :, :, 0], column[:, :, :, 1]
            np.maximum(left, right_, out=out[images])
            if lower is not None and right is not None:
                # Strict comparisons: a tie goes to the top, then to the left.
                np.greater(bottom, top, out=lower[images])
                np.greater(right_, left, out=right[images])

        over_parts(part, N, size=x.size)
        if lower is not None and right is not None:
            self._winners = (lower, right)
        return out.transpose(0, 3, 1, 2)

    @staticmethod
    def _backward_2x2(
        g: np.ndarray, shape: tuple[int, ...], winners: tuple[np.ndarray, ...]
    ) -> np.ndarray:
        N, C, H, W = shape
        lower, right = winners
        columns = np.empty((N, H // 2, W // 2, 2, C), dtype=g.dtype)
        dx = np.empty((N, H // 2, 2, W * C), dtype=g.dtype)

        def part(images: slice) -> None:
            gs, won = g[images], right[images]
            np.multiply(gs, ~won, out=columns[images, :, :, 0])
            np.multiply(gs, won, out=columns[images, :, :, 1])
            column = columns[images].reshape(-1, H // 2, W * C)
            down = lower[images]
            np.multiply(column, ~down, out=dx[images, :, 0])
            np.multiply(column, down, out=dx[images, :, 1])

        over_parts(part, N, size=dx.size)
        return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)

    # --- any window and stride ------------------------------------------------------

    def _forward_windows(self, x: np.ndarray, *, training: bool) -> np.ndarray:
        k, s = self.pool_size, self.stride
        N, C, H, W = x.shape
        Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
        windows = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s][:, :, :Ho, :Wo]
        flat = windows.reshape(N, C, Ho, Wo, k * k)
        argmax = flat.argmax(axis=-1)
        out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
        if training:
            self._winners = (argmax,)
        return out

    def _backward_windows(
        self, g: np.ndarray, shape: tuple[int, ...], argmax: np.ndarray
    ) -> np.ndarray:
        k, s = self.pool_size, self.stride
        N, C, H, W = shape
        argmax = argmax.transpose(0, 2, 3, 1)
        _, Ho, Wo, _ = g.shape
        dx = np.zeros((N, H, W, C), dtype=g.dtype)
        zero = g.dtype.type(0)
        for index in range(k * k):  # a loop over window offsets, not pixels
            i, j = divmod(index, k)
            dx[:, i : i + s * Ho : s, j : j + s * Wo : s, :] += np.where(argmax == index, g, zero)
        return dx.transpose(0, 3, 1, 2)

    def config(self) -> dict[str, Any]:
        return {"pool_size": self.pool_size, "stride": self.stride}
