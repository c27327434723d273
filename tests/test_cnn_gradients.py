"""Centred finite-difference checks, in float64, of every convolutional-network layer.

Each check compares backward's analytic gradients, for the input and for every
parameter, with (L(x + h) - L(x - h)) / 2h of a fixed random projection L of
the layer's output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nnet.batchnorm import BatchNorm
from nnet.conv import Conv2D
from nnet.flatten import Flatten
from nnet.layer import Layer
from nnet.pooling import MaxPool2D

STEP = 1e-6
TOLERANCE = 1e-6


def as_float64(layer: Layer) -> Layer:
    layer.params = {name: p.astype(np.float64) for name, p in layer.params.items()}
    layer.grads = {name: np.zeros_like(p) for name, p in layer.params.items()}
    return layer


def numeric_gradient(loss: Callable[[], float], array: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):  # in place, whatever the memory layout
        saved = array[i]
        array[i] = saved + STEP
        up = loss()
        array[i] = saved - STEP
        down = loss()
        array[i] = saved
        grad[i] = (up - down) / (2 * STEP)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def check_layer(layer: Layer, x: np.ndarray, *, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = x.astype(np.float64)
    projection = rng.standard_normal(layer.forward(x, training=True).shape)

    def loss() -> float:
        return float(np.sum(layer.forward(x, training=True) * projection)) + layer.penalty()

    out = layer.forward(x, training=True)
    assert out.dtype == np.float64
    dx = layer.backward(projection)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    assert dx is not None
    assert dx.shape == x.shape
    assert relative_error(dx, numeric_gradient(loss, x)) < TOLERANCE
    for name, param in layer.params.items():
        numeric = numeric_gradient(loss, param)
        assert relative_error(analytic[name], numeric) < TOLERANCE, name


@pytest.mark.parametrize(
    ("stride", "padding", "kernel"),
    [(1, 1, 3), (1, 0, 3), (2, 1, 3), (2, 0, (2, 3))],
)
def test_conv2d_gradients(stride: int, padding: int, kernel: int | tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    layer = as_float64(Conv2D(3, 4, kernel, stride=stride, padding=padding, l2=0.01, rng=rng))
    layer.params["b"][...] = rng.standard_normal(4)
    check_layer(layer, rng.standard_normal((2, 3, 7, 6)))


def test_conv2d_l2_penalty_gradient() -> None:
    rng = np.random.default_rng(2)
    layer = as_float64(Conv2D(2, 3, 3, padding=1, l2=0.05, rng=rng))
    x = rng.standard_normal((2, 2, 5, 5))
    layer.forward(x, training=True)
    layer.backward(np.zeros((2, 3, 5, 5)))
    numeric = numeric_gradient(layer.penalty, layer.params["W"])
    assert relative_error(layer.grads["W"], numeric) < TOLERANCE


@pytest.mark.parametrize(("pool_size", "stride"), [(2, None), (3, 2), (2, 1)])
def test_maxpool_gradients(pool_size: int, stride: int | None) -> None:
    rng = np.random.default_rng(3)
    # Distinct values: a finite difference across a tie has no meaning.
    x = rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6) / 100.0
    check_layer(MaxPool2D(pool_size, stride=stride), x)


def test_maxpool_sends_a_tied_window_one_gradient() -> None:
    pool = MaxPool2D(2)
    pool.forward(np.zeros((1, 1, 2, 2)), training=True)
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    assert dx is not None
    assert dx.sum() == 1.0


def test_flatten_gradients() -> None:
    rng = np.random.default_rng(4)
    check_layer(Flatten(), rng.standard_normal((2, 3, 4, 5)))


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 3, 2)])
def test_batchnorm_gradients(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(5)
    layer = as_float64(BatchNorm(shape[1]))
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, shape[1])
    layer.params["beta"][...] = rng.standard_normal(shape[1])
    check_layer(layer, rng.standard_normal(shape) * 2.0 + 1.0)


def test_gradients_through_channels_last_layout() -> None:
    """Conv outputs are NCHW views of NHWC memory; BatchNorm and pooling must take either."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 5, 3)).transpose(0, 3, 1, 2)
    assert not x.flags.c_contiguous
    layer = as_float64(BatchNorm(3))
    check_layer(layer, x)
    distinct = rng.permutation(2 * 4 * 4 * 3).reshape(2, 4, 4, 3) / 70.0
    check_layer(MaxPool2D(2), distinct.transpose(0, 3, 1, 2))
