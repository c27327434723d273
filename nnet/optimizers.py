"""Optimizers update (key, param, grad) triples in place.

They keep their own state keyed by the parameter's key, so a layer carries
nothing an optimizer put there, and any layer type works unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

ParamTriple = tuple[str, np.ndarray, np.ndarray]


class Optimizer:
    def __init__(self, learning_rate: float, *, decay: float = 0.0) -> None:
        if learning_rate <= 0:
            raise ValueError(f"learning rate must be positive, got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.decay = float(decay)
        self.iterations = 0
        # Set per epoch by a schedule (see Network.fit); 1 leaves the rate alone.
        self.scale = 1.0

    @property
    def current_learning_rate(self) -> float:
        """Inverse-time decay, times the schedule's factor: scale * lr / (1 + decay * step)."""
        return float(self.scale * self.learning_rate / (1.0 + self.decay * self.iterations))

    def step(self, params: Iterable[ParamTriple]) -> None:
        lr = self.current_learning_rate
        for key, param, grad in params:
            self._update(key, param, grad, lr)
        self.iterations += 1

    def _update(self, key: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(
        self, learning_rate: float = 0.01, *, momentum: float = 0.0, decay: float = 0.0
    ) -> None:
        super().__init__(learning_rate, decay=decay)
        self.momentum = float(momentum)
        self._velocity: dict[str, np.ndarray] = {}

    def _update(self, key: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        if not self.momentum:
            param -= lr * grad
            return
        velocity = self._velocity.get(key)
        if velocity is None:
            velocity = self._velocity[key] = np.zeros_like(param)
        velocity *= self.momentum
        velocity -= lr * grad
        param += velocity


class Adam(Optimizer):
    def __init__(
        self,
        learning_rate: float = 0.001,
        *,
        decay: float = 0.0,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate, decay=decay)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._moments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._step_size = 0.0

    def step(self, params: Iterable[ParamTriple]) -> None:
        # Bias correction folded into the step size, computed once per step. A Python
        # float, not np.float64: NumPy 2 would otherwise run `update *= step` in
        # float64 and cast back, which made Adam's update 8x slower.
        t = self.iterations + 1
        lr = self.current_learning_rate
        self._step_size = lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        super().step(params)

    def _update(self, key: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        moments = self._moments.get(key)
        if moments is None:
            moments = self._moments[key] = (np.zeros_like(param), np.zeros_like(param))
        m, v = moments
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        v *= self.beta2
        v += (1.0 - self.beta2) * np.square(grad)
        update = np.sqrt(v)
        update += self.epsilon
        np.divide(m, update, out=update)
        update *= self._step_size
        param -= update
