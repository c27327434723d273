"""2-D convolution over NCHW batches, as one matrix multiply through im2col.

The windows are gathered with stride tricks into a (N*Ho*Wo, kh*kw*C) matrix,
so the forward pass is a single BLAS call. Results are laid out channels-last
in memory (NHWC) and handed on as an NCHW *view*: numpy's elementwise ops keep
that layout, so BatchNorm, ReLU and pooling never pay for a transpose, and the
backward pass gets its gradient back in the layout the matmul wants.

The input gradient (col2im) adds each of the kh*kw kernel offsets' slab back
into place: a loop over 9 offsets for a 3x3 kernel, never over pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnet.batch_split import over_parts, total
from nnet.columns import column_sums
from nnet.initialisation import Init, initial_weights
from nnet.layer import Layer


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    first, second = value
    return int(first), int(second)


class Conv2D(Layer):
    needs_rng: ClassVar[bool] = True
    worth_splitting: ClassVar[bool] = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        *,
        stride: int = 1,
        padding: int = 0,
        init: Init = "he",
        l2: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if stride < 1 or padding < 0:
            raise ValueError(f"stride must be >= 1 and padding >= 0, got {stride}, {padding}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding = int(stride), int(padding)
        self.init, self.l2 = init, float(l2)
        kh, kw = self.kernel_size
        self.params = {
            "W": initial_weights(
                (self.out_channels, self.in_channels, kh, kw),
                init=init,
                fan_in=self.in_channels * kh * kw,
                fan_out=self.out_channels * kh * kw,
                rng=rng if rng is not None else np.random.default_rng(),
            ),
            "b": np.zeros(self.out_channels, dtype=np.float32),
        }
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self._cols: np.ndarray | None = None
        self._in_shape: tuple[int, ...] | None = None

    def output_shape(self, height: int, width: int) -> tuple[int, int]:
        kh, kw = self.kernel_size
        p, s = self.padding, self.stride
        return (height + 2 * p - kh) // s + 1, (width + 2 * p - kw) // s + 1

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        N, C, H, W = x.shape
        if self.in_channels != C:
            raise ValueError(f"Conv2D expects {self.in_channels} channels, got {C}")
        Ho, Wo = self.output_shape(H, W)
        if Ho < 1 or Wo < 1:
            raise ValueError(f"a {H}x{W} input is smaller than the {self.kernel_size} kernel")
        kh, kw = self.kernel_size
        F = self.out_channels
        cols = np.empty((N, Ho, Wo, kh, kw, C), dtype=x.dtype)
        out = np.empty((N, Ho, Wo, F), dtype=x.dtype)
        weights = self._weight_matrix(x.dtype).T
        bias = self.params["b"]

        def part(images: slice) -> None:
            self._im2col(x[images], cols[images])
            rows = out[images].reshape(-1, F)
            np.matmul(cols[images].reshape(len(rows), -1), weights, out=rows)
            rows += bias

        over_parts(part, N, size=cols.size)
        if training:
            self._cols, self._in_shape = cols, x.shape
        else:
            self._cols = self._in_shape = None
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        if self._cols is None or self._in_shape is None:
            raise RuntimeError("Conv2D.backward needs a forward pass with training=True")
        cols = self._cols
        N, C, H, W = self._in_shape
        F, Ho, Wo = grad.shape[1:]
        p = self.padding
        g = grad.transpose(0, 2, 3, 1)  # NHWC: rows are free when grad is laid out so
        dx = None
        if self.input_grad_needed:
            dx = np.zeros((N, H + 2 * p, W + 2 * p, C), dtype=grad.dtype)
        weights = self.params["W"].astype(grad.dtype, copy=False)

        def part(images: slice) -> tuple[np.ndarray, np.ndarray]:
            rows = g[images].reshape(-1, F)
            dW = rows.T @ cols[images].reshape(len(rows), -1)  # (F, kh*kw*C): (i, j, c) order
            if dx is not None:
                self._col2im(rows, weights, dx[images], Ho, Wo)
            return dW, column_sums(rows)

        sums = over_parts(part, N, size=cols.size)
        dW, db = total([dW for dW, _ in sums]), total([db for _, db in sums])
        kh, kw = self.kernel_size
        self.grads["W"][...] = dW.reshape(F, kh, kw, C).transpose(0, 3, 1, 2)
        self.grads["b"][...] = db
        if self.l2:
            self.grads["W"] += (2.0 * self.l2) * self.params["W"]
        if dx is None:
            return None
        return dx[:, p : p + H, p : p + W, :].transpose(0, 3, 1, 2)

    def _weight_matrix(self, dtype: np.dtype) -> np.ndarray:
        """W as (F, kh*kw*C), columns ordered like im2col's: channel innermost."""
        W = self.params["W"].transpose(0, 2, 3, 1).reshape(self.out_channels, -1)
        return W.astype(dtype, copy=False)

    def _im2col(self, x: np.ndarray, cols: np.ndarray) -> None:
        """Fill `cols` (n, Ho, Wo, kh, kw, C): rows (n, ho, wo), columns (i, j, c)."""
        N, C, H, W = x.shape
        _, Ho, Wo, kh, kw, _ = cols.shape
        p, s = self.padding, self.stride
        if p:
            # Channels-last padded buffer, seen as NCHW, so that the gather below
            # copies whole runs of channels at a time.
            padded = np.zeros((N, H + 2 * p, W + 2 * p, C), dtype=x.dtype).transpose(0, 3, 1, 2)
            padded[:, :, p : p + H, p : p + W] = x
            x = padded
        windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::s, ::s][:, :, :Ho, :Wo]
        # np.copyto into a fresh array is several times faster than reshape's own copy here.
        np.copyto(cols, windows.transpose(0, 2, 3, 4, 5, 1))

    def _col2im(
        self, rows: np.ndarray, weights: np.ndarray, dx: np.ndarray, Ho: int, Wo: int
    ) -> None:
        """Add the input gradient into the padded, channels-last `dx`, one kernel offset
        at a time.

        Each offset's (n*Ho*Wo, C) slab comes from its own small matmul, so it is
        contiguous and lands in the channels-last gradient in long runs; one big
        (n*Ho*Wo, kh*kw*C) product would have to be scattered 32 floats at a time.
        """
        n, C = len(dx), self.in_channels
        kh, kw = self.kernel_size
        s = self.stride
        for i in range(kh):
            for j in range(kw):
                slab = (rows @ weights[:, :, i, j]).reshape(n, Ho, Wo, C)
                dx[:, i : i + s * Ho : s, j : j + s * Wo : s, :] += slab

    def penalty(self) -> float:
        return self.l2 * float(np.square(self.params["W"]).sum()) if self.l2 else 0.0

    def config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": self.stride,
            "padding": self.padding,
            "init": self.init,
            "l2": self.l2,
        }
