"""Fully connected layer with optional L1/L2 weight regularisation."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnet.batch_split import over_parts
from nnet.columns import column_sums
from nnet.initialisation import Init, initial_weights
from nnet.layer import Layer


class Dense(Layer):
    needs_rng: ClassVar[bool] = True

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        *,
        init: Init = "he",
        l1: float = 0.0,
        l2: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_inputs, self.n_outputs = n_inputs, n_outputs
        self.init, self.l1, self.l2 = init, float(l1), float(l2)
        self.params = {
            "W": initial_weights(
                (n_inputs, n_outputs),
                init=init,
                fan_in=n_inputs,
                fan_out=n_outputs,
                rng=rng if rng is not None else np.random.default_rng(),
            ),
            "b": np.zeros(n_outputs, dtype=np.float32),
        }
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        self._x = x if training else None
        W, b = self.params["W"], self.params["b"]
        out = np.empty((len(x), self.n_outputs), dtype=np.result_type(x, W))

        def part(rows: slice) -> None:
            np.matmul(x[rows], W, out=out[rows])
            out[rows] += b

        over_parts(part, len(x), size=x.size)
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        x = self._x
        if x is None:
            raise RuntimeError("Dense.backward needs a forward pass with training=True")
        W = self.params["W"]
        dx = (
            np.empty((len(grad), self.n_inputs), dtype=grad.dtype)
            if self.input_grad_needed
            else None
        )

        dW, db = self.grads["W"], self.grads["b"]

        def part(rows: slice) -> tuple[np.ndarray, np.ndarray] | None:
            if dx is not None:
                np.matmul(grad[rows], W.T, out=dx[rows])
            if rows.start == 0:
                # In place: a fresh (inputs, outputs) array per step page-faulted
                # enough to cost an MLP 7% (benchmarks/train_speed.py).
                np.matmul(x[rows].T, grad[rows], out=dW)
                db[...] = column_sums(grad[rows])
                return None
            return x[rows].T @ grad[rows], column_sums(grad[rows])

        for more in over_parts(part, len(grad), size=x.size)[1:]:
            assert more is not None
            dW += more[0]  # in the parts' order: a run repeats exactly
            db += more[1]
        if self.l1:
            self.grads["W"] += self.l1 * np.sign(W)
        if self.l2:
            self.grads["W"] += (2.0 * self.l2) * W
        return dx

    def penalty(self) -> float:
        W = self.params["W"]
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(W).sum())
        if self.l2:
            total += self.l2 * float(np.square(W).sum())
        return total

    def config(self) -> dict[str, Any]:
        return {
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "init": self.init,
            "l1": self.l1,
            "l2": self.l2,
        }
