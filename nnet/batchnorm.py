"""Batch normalisation for dense (N, F) and convolutional (N, C, H, W) inputs.

Training normalises with the batch's own statistics and folds them into
running averages; inference uses only the running averages, so one image's
prediction never depends on what else is in its batch. The running averages
are `buffers`: saved in the parameters file but never touched by an optimizer.

Feature maps are handled as rows of channels, (N*H*W, C): a free view of the
channels-last memory nnet.conv produces, and a layout in which every
statistic is a plain reduction over axis 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnet.batch_split import over_parts, total
from nnet.columns import column_dots, column_sums
from nnet.layer import Layer


class BatchNorm(Layer):
    def __init__(self, n_features: int, *, momentum: float = 0.9, epsilon: float = 1e-5) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.n_features = int(n_features)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.params = {
            "gamma": np.ones(self.n_features, dtype=np.float32),
            "beta": np.zeros(self.n_features, dtype=np.float32),
        }
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.buffers = {
            "running_mean": np.zeros(self.n_features, dtype=np.float32),
            "running_var": np.ones(self.n_features, dtype=np.float32),
        }
        self._xhat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        rows = self._rows(x)
        dtype = rows.dtype
        gamma = self.params["gamma"].astype(dtype, copy=False)
        beta = self.params["beta"].astype(dtype, copy=False)
        of = _rows_of(len(rows), len(x))
        out = np.empty_like(rows)
        if not training:
            self._xhat = self._inv_std = None
            # One fused scale and shift: (x - mean) / std * gamma + beta.
            scale = gamma / np.sqrt(self.buffers["running_var"].astype(dtype) + self.epsilon)
            shift = beta - self.buffers["running_mean"] * scale

            def normalise(images: slice) -> None:
                r = of(images)
                np.multiply(rows[r], scale, out=out[r])
                out[r] += shift

            over_parts(normalise, len(x), size=rows.size)
            return self._unrows(out, x.shape)
        count = len(rows)
        mean = total(over_parts(lambda i: column_sums(rows[of(i)]), len(x), size=rows.size))
        mean /= dtype.type(count)
        xhat = np.empty_like(rows)

        def centre(images: slice) -> np.ndarray:
            r = of(images)
            np.subtract(rows[r], mean, out=xhat[r])
            return column_dots(xhat[r], xhat[r])

        var = total(over_parts(centre, len(x), size=rows.size)) / dtype.type(count)
        inv_std = 1.0 / np.sqrt(var + dtype.type(self.epsilon))

        def scale_and_shift(images: slice) -> None:
            r = of(images)
            xhat[r] *= inv_std
            np.multiply(xhat[r], gamma, out=out[r])
            out[r] += beta

        over_parts(scale_and_shift, len(x), size=rows.size)
        m = self.momentum
        self.buffers["running_mean"] *= m
        self.buffers["running_mean"] += (1.0 - m) * mean
        self.buffers["running_var"] *= m
        self.buffers["running_var"] += (1.0 - m) * var * (count / max(count - 1, 1))
        self._xhat, self._inv_std = xhat, inv_std
        return self._unrows(out, x.shape)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        if self._xhat is None or self._inv_std is None:
            raise RuntimeError("BatchNorm.backward needs a forward pass with training=True")
        g = self._rows(grad)
        xhat = self._xhat
        n = len(grad)
        of = _rows_of(len(g), n)

        def sums(images: slice) -> np.ndarray:
            r = of(images)
            return np.stack([column_sums(g[r]), column_dots(g[r], xhat[r])])

        dbeta, dgamma = total(over_parts(sums, n, size=g.size))
        self.grads["beta"][...] = dbeta
        self.grads["gamma"][...] = dgamma
        if not self.input_grad_needed:
            return None
        count = g.dtype.type(len(g))
        gamma = self.params["gamma"].astype(g.dtype, copy=False)
        dx = np.empty_like(g)
        # dx = gamma / std * (g - mean(g) - xhat * mean(g * xhat))
        mean_g, mean_gx, factor = dbeta / count, dgamma / count, gamma * self._inv_std

        def input_gradient(images: slice) -> None:
            r = of(images)
            np.multiply(xhat[r], mean_gx, out=dx[r])
            np.subtract(g[r], dx[r], out=dx[r])
            dx[r] -= mean_g
            dx[r] *= factor

        over_parts(input_gradient, n, size=g.size)
        return self._unrows(dx, grad.shape)

    def _rows(self, x: np.ndarray) -> np.ndarray:
        if x.ndim not in (2, 4):
            raise ValueError(f"BatchNorm takes (N, F) or (N, C, H, W) inputs, got shape {x.shape}")
        if x.shape[1] != self.n_features:
            raise ValueError(f"BatchNorm expects {self.n_features} features, got {x.shape[1]}")
        if x.ndim == 2:
            return x
        return x.transpose(0, 2, 3, 1).reshape(-1, self.n_features)

    @staticmethod
    def _unrows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        if len(shape) == 2:
            return rows
        N, C, H, W = shape
        return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "momentum": self.momentum, "epsilon": self.epsilon}


def _rows_of(n_rows: int, n_images: int) -> Callable[[slice], slice]:
    """Maps a part's images to its rows: each image's pixels are consecutive rows."""
    per_image = n_rows // n_images if n_images else 1
    return lambda images: slice(images.start * per_image, images.stop * per_image)
