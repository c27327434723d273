"""Analytic gradients against centred finite differences, in float64.

Each check builds a scalar L = sum(G * layer(x)) + penalty for a fixed random G,
so dL/d(output) = G, and compares backward's dL/dx and dL/dparam with
(L(v + h) - L(v - h)) / 2h for every element. The CNN layers have theirs in the
cnn tests, through the same `check_layer`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nnet.activations import ReLU, Softmax
from nnet.dense import Dense
from nnet.dropout import Dropout
from nnet.layer import Layer
from nnet.loss import SoftmaxCrossEntropy

H = 1e-6
TOLERANCE = 1e-6


def numerical_gradient(f: Callable[[], float], array: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + H
        plus = f()
        array[index] = saved - H
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * H)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def to_float64(layer: Layer) -> Layer:
    for name in layer.params:
        layer.params[name] = layer.params[name].astype(np.float64)
        layer.grads[name] = np.zeros_like(layer.params[name])
    return layer


def check_layer(
    layer: Layer, x: np.ndarray, *, before_forward: Callable[[], None] = lambda: None
) -> None:
    """Compare every analytic gradient of `layer` at `x` with finite differences."""
    to_float64(layer)
    x = x.astype(np.float64)
    rng = np.random.default_rng(1)
    before_forward()
    G = rng.standard_normal(layer.forward(x, training=True).shape)

    def loss() -> float:
        before_forward()
        return float(np.sum(G * layer.forward(x, training=True)) + layer.penalty())

    loss()
    layer.input_grad_needed = True
    dx = layer.backward(G)
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    assert dx is not None
    assert relative_error(dx, numerical_gradient(loss, x)) < TOLERANCE
    for name, param in layer.params.items():
        numeric = numerical_gradient(loss, param)
        assert relative_error(analytic[name], numeric) < TOLERANCE, name


def away_from_zero(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Inputs at least 0.1 from ReLU's kink, where the finite difference would straddle it."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, 0.1 * np.sign(x + 1e-12) + x, x)


@pytest.mark.parametrize("init", ["he", "glorot"])
def test_dense(init: str) -> None:
    layer = Dense(5, 4, init=init, rng=np.random.default_rng(0))  # type: ignore[arg-type]
    layer.params["b"][...] = np.random.default_rng(2).standard_normal(4)
    check_layer(layer, np.random.default_rng(3).standard_normal((6, 5)))


def test_dense_with_l2_regularisation() -> None:
    check_layer(
        Dense(5, 3, l2=0.05, rng=np.random.default_rng(0)),
        np.random.default_rng(3).standard_normal((4, 5)),
    )


def test_dense_with_l1_regularisation() -> None:
    layer = Dense(5, 3, l1=0.05, rng=np.random.default_rng(0))
    # |w| has a kink at 0 too: keep the weights away from it.
    layer.params["W"][...] = away_from_zero((5, 3), seed=4)
    check_layer(layer, np.random.default_rng(3).standard_normal((4, 5)))


def test_relu() -> None:
    check_layer(ReLU(), away_from_zero((6, 7)))


def test_softmax() -> None:
    check_layer(Softmax(), np.random.default_rng(0).standard_normal((5, 4)))


def test_dropout_with_a_fixed_mask() -> None:
    layer = Dropout(0.4)
    check_layer(
        layer,
        np.random.default_rng(0).standard_normal((6, 8)),
        before_forward=lambda: layer.reseed(np.random.default_rng(7)),
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_cross_entropy(weighted: bool) -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4)) * 3
    labels = rng.integers(0, 4, 6)
    weights = rng.uniform(0.5, 2.0, 6) if weighted else None
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels, weights)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(logits, labels, weights), logits)
    assert relative_error(analytic, numeric) < TOLERANCE


def test_cross_entropy_of_a_confident_mistake_is_finite() -> None:
    logits = np.array([[1000.0, -1000.0]], dtype=np.float32)
    value = SoftmaxCrossEntropy().forward(logits, np.array([1]))
    assert np.isfinite(value) and value > 100
