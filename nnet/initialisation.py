"""Random initial weights, scaled by the fan-in and fan-out so that signals keep their size."""

from __future__ import annotations

from typing import Literal

import numpy as np

Init = Literal["he", "glorot"]


def initial_weights(
    shape: tuple[int, ...], *, init: Init, fan_in: int, fan_out: int, rng: np.random.Generator
) -> np.ndarray:
    """He suits ReLU (keeps activation variance constant); Glorot suits a softmax output."""
    if init == "he":
        weights = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    elif init == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights = rng.uniform(-limit, limit, shape)
    else:
        raise ValueError(f"unknown initialisation {init!r}; use 'he' or 'glorot'")
    return weights.astype(np.float32)
