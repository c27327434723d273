"""A batch's work split by images over threads: same results, every image covered once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from nnet import batch_split
from nnet.activations import ReLU
from nnet.architectures import build_network, get_architecture
from nnet.batchnorm import BatchNorm
from nnet.blas import blas_threads
from nnet.conv import Conv2D
from nnet.dense import Dense
from nnet.layer import Layer
from nnet.optimizers import SGD
from nnet.pooling import MaxPool2D

needs_openblas = pytest.mark.skipif(
    blas_threads() is None, reason="numpy's BLAS is not an OpenBLAS we can set"
)


@pytest.fixture
def cores(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Pretend the process may use `n` cores, whatever machine runs the test."""

    def allow(n: int) -> None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(batch_split.os, "sched_getaffinity", lambda _pid: set(range(n)))

    return allow


def _calls(n: int, size: int = batch_split.MIN_SPLIT_SIZE) -> list[tuple[slice, str]]:
    seen: list[tuple[slice, str]] = []

    def work(images: slice) -> slice:
        seen.append((images, threading.current_thread().name))
        return images

    results = batch_split.over_parts(work, n, size=size)
    assert results == sorted(results, key=lambda s: s.start)  # in order, whoever finished first
    return sorted(seen, key=lambda call: call[0].start)


def test_outside_split_batches_the_work_is_one_call_on_the_whole_batch() -> None:
    assert _calls(100) == [(slice(0, 100), threading.current_thread().name)]


@needs_openblas
def test_inside_each_core_gets_a_contiguous_part_on_its_own_thread(
    cores: Callable[[int], None],
) -> None:
    cores(3)
    before = blas_threads()
    with batch_split.split_batches() as parts:
        assert parts == 3
        assert blas_threads() == 1  # OpenBLAS does not spin against our threads
        calls = _calls(100)
        assert [s for s, _ in calls] == [slice(0, 33), slice(33, 66), slice(66, 100)]
        assert len({thread for _, thread in calls}) > 1  # a quick worker may take two
        assert len(_calls(2)) == 2  # never an empty part
        small = _calls(100, size=batch_split.MIN_SPLIT_SIZE - 1)
        assert small == [(slice(0, 100), threading.current_thread().name)]
        with batch_split.split_batches() as inner:  # re-entrant: the same threads
            assert inner == 3
        assert blas_threads() == 1
    assert blas_threads() == before
    assert len(_calls(100)) == 1


@needs_openblas
def test_one_core_asked_for_means_one_part(
    cores: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    cores(2)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # what the daemon sets for a retrain
    with batch_split.split_batches() as parts:
        assert parts == 1
        assert len(_calls(100)) == 1


@needs_openblas
@pytest.mark.parametrize(("n_cores", "failing"), [(2, 0), (3, 1)])
def test_a_failing_part_raises_after_the_other_parts_finish(
    cores: Callable[[int], None], n_cores: int, failing: int
) -> None:
    """The calling thread's part, or a worker's, fails at once while a slower part
    still writes into the caller's arrays: nothing may return before it is done."""
    cores(n_cores)
    finished: list[slice] = []

    def work(images: slice) -> None:
        if images.start == 10 * failing:
            raise ValueError("a part failed")
        threading.Event().wait(0.05 if images.start else 0.0)
        finished.append(images)

    with batch_split.split_batches(), pytest.raises(ValueError, match="a part failed"):
        batch_split.over_parts(work, 10 * n_cores, size=batch_split.MIN_SPLIT_SIZE)
    expected = [slice(10 * i, 10 * i + 10) for i in range(n_cores) if i != failing]
    assert sorted(finished, key=lambda s: s.start) == expected


def _passes(make: Callable[[], Layer], x: np.ndarray, grad: np.ndarray) -> list[np.ndarray]:
    layer = make()
    out = layer.forward(x, training=True)
    dx = layer.backward(grad)
    assert dx is not None
    inference = layer.forward(x)
    return [out, dx, inference, *layer.grads.values(), *layer.buffers.values()]


def _conv(**options: int) -> Conv2D:
    return Conv2D(3, 8, 3, rng=np.random.default_rng(0), **options)


@needs_openblas
@pytest.mark.parametrize(
    ("make", "in_shape", "out_shape"),
    [
        (lambda: _conv(padding=1), (33, 3, 6, 6), (33, 8, 6, 6)),
        (lambda: _conv(stride=2), (20, 3, 7, 7), (20, 8, 3, 3)),
        (lambda: MaxPool2D(2), (33, 4, 6, 8), (33, 4, 3, 4)),
        (lambda: BatchNorm(4), (33, 4, 5, 5), (33, 4, 5, 5)),
        (lambda: BatchNorm(6), (40, 6), (40, 6)),
        (ReLU, (33, 4, 5, 5), (33, 4, 5, 5)),
        (lambda: Dense(12, 5, rng=np.random.default_rng(0)), (41, 12), (41, 5)),
    ],
)
def test_layers_give_the_same_results_split_or_not(
    cores: Callable[[int], None],
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], Layer],
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
) -> None:
    cores(2)
    monkeypatch.setattr(batch_split, "MIN_SPLIT_SIZE", 1)  # split even these small batches
    rng = np.random.default_rng(1)
    # Ties in max pooling must go to the same corner either way: round the inputs.
    x = np.round(rng.standard_normal(in_shape), 1).astype(np.float32)
    grad = rng.standard_normal(out_shape).astype(np.float32)
    alone = _passes(make, x, grad)
    with batch_split.split_batches():
        split = _passes(make, x, grad)
    for a, b in zip(alone, split, strict=True):
        assert a.dtype == b.dtype == np.float32
        assert a.shape == b.shape
        # Partial sums add in another order: equal to float32 rounding, not bit for bit.
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(np.abs(a).max()))


@needs_openblas
def test_fit_on_two_cores_trains_the_weights_one_core_trains(
    cores: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    arch = get_architecture("cnn")
    rng = np.random.default_rng(2)
    X = rng.random((96, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 96)

    def trained() -> dict[str, np.ndarray]:
        network = build_network(arch.spec, seed=3)
        # SGD, not the recipe's Adam: Adam's first steps are about the sign of each
        # gradient, so a near-zero gradient's rounding would move its weight by lr.
        network.fit(X, y, 1, 48, optimizer=SGD(0.05), seed=4)
        return {key: array.copy() for key, array in network.state().items()}

    cores(2)
    split, again = trained(), trained()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    alone = trained()
    for key in split:
        np.testing.assert_array_equal(split[key], again[key], err_msg=key)  # repeatable
        # The first convolution's float32 gradient is only good to ~1% either way (it comes
        # through BatchNorm's cancellations), so two SGD steps may differ by ~1e-4.
        np.testing.assert_allclose(split[key], alone[key], rtol=1e-3, atol=1e-3, err_msg=key)
