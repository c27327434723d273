"""Centred finite-difference checks, in float64, of every convolutional-network layer.

They use the dense layers' `check_layer` (tests/test_gradients.py): L = sum(G * layer(x)) +
penalty for a fixed random G, every analytic gradient, for the input and for each
parameter, against (L(v + h) - L(v - h)) / 2h.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnet.batchnorm import BatchNorm
from nnet.conv import Conv2D
from nnet.flatten import Flatten
from nnet.layer import Layer
from nnet.pooling import MaxPool2D
from tests.test_gradients import check_layer, numerical_gradient, relative_error, to_float64

TOLERANCE = 1e-6


@pytest.mark.parametrize(
    ("stride", "padding", "kernel"),
    [(1, 1, 3), (1, 0, 3), (2, 1, 3), (2, 0, (2, 3))],
)
def test_conv2d_gradients(stride: int, padding: int, kernel: int | tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    layer = to_float64(Conv2D(2, 3, kernel, stride=stride, padding=padding, l2=0.01, rng=rng))
    layer.params["b"][...] = rng.standard_normal(3)
    # Small: the fewer terms in L, the less roundoff in its finite differences.
    check_layer(layer, rng.standard_normal((2, 2, 6, 5)))


def test_conv2d_l2_penalty_gradient() -> None:
    rng = np.random.default_rng(2)
    layer = to_float64(Conv2D(2, 3, 3, padding=1, l2=0.05, rng=rng))
    x = rng.standard_normal((2, 2, 5, 5))
    layer.forward(x, training=True)
    layer.backward(np.zeros((2, 3, 5, 5)))
    numeric = numerical_gradient(layer.penalty, layer.params["W"])
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
    layer = to_float64(BatchNorm(shape[1]))
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, shape[1])
    layer.params["beta"][...] = rng.standard_normal(shape[1])
    check_layer(layer, rng.standard_normal(shape) * 2.0 + 1.0)


def test_gradients_through_channels_last_layout() -> None:
    """Conv outputs are NCHW views of NHWC memory; BatchNorm and pooling must take either."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 5, 3)).transpose(0, 3, 1, 2)
    assert not x.flags.c_contiguous
    layer = to_float64(BatchNorm(3))
    check_layer(layer, x)
    distinct = rng.permutation(2 * 4 * 4 * 3).reshape(2, 4, 4, 3) / 70.0
    check_layer(MaxPool2D(2), distinct.transpose(0, 3, 1, 2))


@pytest.mark.parametrize(
    "layer",
    [Conv2D(2, 3, 3, padding=1), MaxPool2D(2), MaxPool2D(3, stride=2), Flatten(), BatchNorm(2)],
    ids=lambda layer: type(layer).__name__,
)
def test_layers_compute_in_float64_when_given_float64(layer: Layer) -> None:
    to_float64(layer)
    x = np.random.default_rng(7).standard_normal((2, 2, 6, 6))
    out = layer.forward(x, training=True)
    assert out.dtype == np.float64
    dx = layer.backward(np.ones_like(out))
    assert dx is not None
    assert dx.dtype == np.float64
    assert dx.shape == x.shape
