"""The contract every layer keeps, so that an optimizer never needs a layer's type.

A layer's trainable arrays live in `params`, and their gradients in `grads`
under the same names; `backward` writes `grads` in place. State that is saved
but not trained (BatchNorm's running statistics) lives in `buffers`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np


class Layer:
    # True for layers whose constructor takes `rng` (random initial weights).
    needs_rng: ClassVar[bool] = False
    # True for layers with so much work per image that a network holding one gains
    # from splitting its batches over the cores (see nnet.batch_split).
    worth_splitting: ClassVar[bool] = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        # The first layer of a network skips computing dL/dx: nobody reads it,
        # and for the widest layer it costs as much as the forward pass.
        self.input_grad_needed = True

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        """Take dL/d(output), fill `grads`, return dL/d(input) (None if not needed)."""
        raise NotImplementedError

    def penalty(self) -> float:
        """This layer's share of the regularisation loss."""
        return 0.0

    def reseed(self, rng: np.random.Generator) -> None:
        """Give a layer that draws random numbers while training its own stream."""

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, so the layer can be rebuilt from a file."""
        return {}

    def spec(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **self.config()}
