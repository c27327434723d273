"""Inverted dropout: active only while training, so inference needs no rescaling."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnet.layer import Layer


class Dropout(Layer):
    needs_rng: ClassVar[bool] = True

    def __init__(self, rate: float, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self._rng = rng if rng is not None else np.random.default_rng()
        self._mask: np.ndarray | None = None

    def reseed(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.rate
        mask = self._rng.random(x.shape, dtype=np.float32) < keep
        self._mask = mask.astype(x.dtype) / x.dtype.type(keep)
        return x * self._mask

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        return grad if self._mask is None else grad * self._mask

    def config(self) -> dict[str, Any]:
        return {"rate": self.rate}
