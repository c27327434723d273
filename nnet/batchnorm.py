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

from typing import Any

import numpy as np

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
        if not training:
            self._xhat = self._inv_std = None
            # One fused scale and shift: (x - mean) / std * gamma + beta.
            scale = gamma / np.sqrt(self.buffers["running_var"].astype(dtype) + self.epsilon)
            shift = beta - self.buffers["running_mean"] * scale
            out = rows * scale
            out += shift
            return self._unrows(out, x.shape)
        count = len(rows)
        mean = rows.mean(axis=0)
        xhat = rows - mean
        var = np.einsum("ij,ij->j", xhat, xhat) / dtype.type(count)
        inv_std = 1.0 / np.sqrt(var + dtype.type(self.epsilon))
        xhat *= inv_std
        m = self.momentum
        self.buffers["running_mean"] *= m
        self.buffers["running_mean"] += (1.0 - m) * mean
        self.buffers["running_var"] *= m
        self.buffers["running_var"] += (1.0 - m) * var * (count / max(count - 1, 1))
        self._xhat, self._inv_std = xhat, inv_std
        out = xhat * gamma
        out += beta
        return self._unrows(out, x.shape)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        if self._xhat is None or self._inv_std is None:
            raise RuntimeError("BatchNorm.backward needs a forward pass with training=True")
        g = self._rows(grad)
        xhat = self._xhat
        dbeta = g.sum(axis=0)
        dgamma = np.einsum("ij,ij->j", g, xhat)
        self.grads["beta"][...] = dbeta
        self.grads["gamma"][...] = dgamma
        if not self.input_grad_needed:
            return None
        count = g.dtype.type(len(g))
        gamma = self.params["gamma"].astype(g.dtype, copy=False)
        # dx = gamma / std * (g - mean(g) - xhat * mean(g * xhat))
        dx = xhat * (dgamma / count)
        np.subtract(g, dx, out=dx)
        dx -= dbeta / count
        dx *= gamma * self._inv_std
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
