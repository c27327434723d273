from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from nnet.architectures import MLP, build_network, cosine_schedule, get_architecture
from nnet.data import load_fashion_mnist
from nnet.dropout import Dropout
from nnet.errors import NnetError
from nnet.history import EpochRecord
from nnet.network import Network
from nnet.optimizers import SGD, Adam
from nnet.training import train_model

SMALL_SPEC = {
    "input_shape": [20],
    "layers": [
        {"type": "Dense", "n_inputs": 20, "n_outputs": 16},
        {"type": "ReLU"},
        {"type": "Dropout", "rate": 0.3},
        {"type": "Dense", "n_inputs": 16, "n_outputs": 3, "init": "glorot"},
    ],
}


def blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable clusters in 20 dimensions."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = rng.standard_normal((3, 20)) * 3
    return (centres[y] + rng.standard_normal((n, 20))).astype(np.float32), y


# --- optimizers --------------------------------------------------------------------


def test_sgd_without_and_with_momentum() -> None:
    param, grad = np.array([1.0, -2.0], np.float32), np.array([0.5, 1.0], np.float32)
    SGD(0.1).step([("p", param, grad)])
    np.testing.assert_allclose(param, [0.95, -2.1])
    param = np.array([1.0, -2.0], np.float32)
    sgd = SGD(0.1, momentum=0.9)
    sgd.step([("p", param, grad)])
    sgd.step([("p", param, grad)])
    # velocity: -0.1 g, then 0.9 * (-0.1 g) - 0.1 g = -0.19 g
    np.testing.assert_allclose(param, np.array([1.0, -2.0]) - 0.29 * grad, rtol=1e-6)


def test_adam_steps_match_the_formula() -> None:
    rng = np.random.default_rng(0)
    param = rng.standard_normal(5).astype(np.float32)
    expected = param.astype(np.float64)
    m = v = np.zeros(5)
    adam = Adam(0.01, decay=0.1)
    for t in range(1, 4):
        grad = rng.standard_normal(5).astype(np.float32)
        lr = 0.01 / (1 + 0.1 * (t - 1))
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad.astype(np.float64) ** 2
        expected -= (
            lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-7 / np.sqrt(1 - 0.999**t))
        )
        adam.step([("p", param, grad)])
    np.testing.assert_allclose(param, expected, rtol=1e-5)
    assert adam.current_learning_rate == pytest.approx(0.01 / 1.3)


def test_optimizer_state_is_kept_per_parameter_key() -> None:
    a, b = np.ones(2, np.float32), np.ones(2, np.float32)
    adam = Adam(0.1)
    adam.step([("a", a, np.ones(2, np.float32)), ("b", b, -np.ones(2, np.float32))])
    assert a[0] < 1 < b[0]


# --- layers and the network ----------------------------------------------------------


def test_dropout_is_only_active_while_training() -> None:
    layer = Dropout(0.25, rng=np.random.default_rng(0))
    x = np.ones((200, 50), np.float32)
    assert layer.forward(x) is x
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.75], rtol=1e-6)
    assert np.mean(out == 0) == pytest.approx(0.25, abs=0.02)
    assert out.mean() == pytest.approx(1.0, abs=0.03)  # inverted dropout keeps the mean
    assert out.dtype == np.float32


def test_a_seed_reproduces_a_run_exactly() -> None:
    X, y = blobs()

    def run(seed: int) -> tuple[dict[str, np.ndarray], list[EpochRecord]]:
        network = build_network(SMALL_SPEC, seed=seed)
        history = network.fit(X, y, 3, 32, optimizer=Adam(0.01), seed=seed)
        return network.state(), history.records

    (state_a, records_a), (state_b, records_b) = run(5), run(5)
    state_c, _ = run(6)
    for key in state_a:
        np.testing.assert_array_equal(state_a[key], state_b[key])
    assert [r.loss for r in records_a] == [r.loss for r in records_b]
    assert any(not np.array_equal(state_a[k], state_c[k]) for k in state_a)


def test_fit_learns_and_computes_in_float32() -> None:
    X, y = blobs()
    network = build_network(SMALL_SPEC, seed=0)
    history = network.fit(X, y, 5, 32, optimizer=Adam(0.01), validation=(X, y), seed=0)
    assert history.records[-1].val_accuracy == pytest.approx(1.0, abs=0.02)
    assert history.records[-1].loss < history.records[0].loss
    assert all(a.dtype == np.float32 for a in network.state().values())
    assert network.predict_proba(X.astype(np.float64)).dtype == np.float32


def test_predictions_are_the_same_in_any_batch_size() -> None:
    X, _ = blobs(100)
    network = build_network(SMALL_SPEC, seed=0)
    whole = network.predict_proba(X)
    np.testing.assert_allclose(network.predict_proba(X, batch_size=7), whole, rtol=1e-6)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, rtol=1e-5)
    assert network.predict(X).tolist() == whole.argmax(axis=1).tolist()
    assert network.predict_proba(np.empty((0, 20))).shape == (0, 3)
    with pytest.raises(ValueError, match="do not fit"):
        network.predict(np.zeros((2, 19)))


def test_evaluate_reports_loss_and_accuracy() -> None:
    X, y = blobs(90)
    network = build_network(SMALL_SPEC, seed=0)
    result = network.evaluate(X, y, batch_size=16)
    assert result.accuracy == pytest.approx(float(np.mean(network.predict(X) == y)))
    assert result.loss > 0


def test_zero_sample_weights_leave_the_weights_alone() -> None:
    X, y = blobs(64)
    network = build_network(SMALL_SPEC, seed=0)
    before = {k: v.copy() for k, v in network.state().items()}
    network.fit(X, y, 1, 16, optimizer=SGD(0.5), sample_weight=np.zeros(64), seed=0)
    for key, array in network.state().items():
        np.testing.assert_array_equal(array, before[key])
    with pytest.raises(ValueError, match="sample weights"):
        network.fit(X, y, 1, 16, sample_weight=np.ones(3))


def test_schedule_scales_the_learning_rate_per_epoch() -> None:
    X, y = blobs(32)
    network = build_network(SMALL_SPEC, seed=0)
    optimizer = SGD(0.1)
    seen: list[float] = []

    class Watch:
        def epoch_started(self, epoch: int, epochs: int, batches: int) -> None:
            pass

        def batch_finished(self, loss: float, accuracy: float) -> None:
            seen.append(optimizer.current_learning_rate)

        def epoch_finished(self, record: EpochRecord) -> None:
            pass

    network.fit(X, y, 4, 32, optimizer=optimizer, schedule=cosine_schedule, observer=Watch())
    assert seen[0] == pytest.approx(0.1)
    assert seen == sorted(seen, reverse=True)
    assert seen[-1] == pytest.approx(0.1 * cosine_schedule(3, 4))
    assert cosine_schedule(4, 4) == pytest.approx(0.02)


def test_network_needs_layers_and_unknown_architecture_is_an_error() -> None:
    with pytest.raises(ValueError):
        Network([], input_shape=[3])
    with pytest.raises(NnetError, match="unknown architecture") as error:
        get_architecture("transformer")
    assert "mlp" in (error.value.hint or "")


# --- train_model -----------------------------------------------------------------------


def small_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 images whose brightest row says the class."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28), dtype=np.uint8)
    images[np.arange(n), labels * 2 + 4, :] = 250
    return images, labels


def test_train_model_fills_the_metadata_and_warm_starts_from_a_copy() -> None:
    train, test = small_images(400), small_images(100, seed=1)
    data = {
        "train_images": train[0],
        "train_labels": train[1],
        "test_images": test[0],
        "test_labels": test[1],
    }
    model, history = train_model(MLP, epochs=2, batch_size=50, seed=3, **data)
    meta = model.metadata
    assert (meta.arch, meta.epochs, meta.batch_size, meta.seed) == ("mlp", 2, 50, 3)
    assert meta.test_accuracy == history.records[-1].val_accuracy
    assert meta.test_accuracy is not None and meta.test_accuracy > 0.9
    assert datetime.fromisoformat(meta.created_at).tzinfo is not None
    assert len(meta.data_fingerprint) == 16
    assert meta.extra["warm_start_from"] is None

    model.sha256 = "feedface"
    before = {k: v.copy() for k, v in model.network.state().items()}
    warm, warm_history = train_model(MLP, epochs=1, initial=model, **data)
    for key, array in model.network.state().items():
        np.testing.assert_array_equal(array, before[key])  # the initial model is untouched
    assert warm.metadata.extra["warm_start_from"] == "feedface"
    assert warm.metadata.extra["learning_rate"] == pytest.approx(
        MLP.learning_rate * MLP.warm_start_scale
    )
    assert meta.extra["learning_rate"] == MLP.learning_rate
    assert warm.metadata.arch == "mlp"
    assert warm_history.records[0].loss < history.records[0].loss


def test_train_model_refuses_normalized_inputs() -> None:
    images, labels = small_images(20)
    with pytest.raises(ValueError, match="uint8"):
        train_model(
            MLP,
            train_images=images / 255.0,
            train_labels=labels,
            test_images=images,
            test_labels=labels,
            epochs=1,
        )


# The default recipe's layers at half the width: the same code path at a third of the cost.
HALF_MLP = dataclasses.replace(
    MLP,
    spec={
        "input_shape": [784],
        "layers": [
            {"type": "Dense", "n_inputs": 784, "n_outputs": 256},
            {"type": "ReLU"},
            {"type": "Dropout", "rate": 0.2},
            {"type": "Dense", "n_inputs": 256, "n_outputs": 128},
            {"type": "ReLU"},
            {"type": "Dropout", "rate": 0.2},
            {"type": "Dense", "n_inputs": 128, "n_outputs": 10, "init": "glorot"},
        ],
    },
)


@pytest.mark.real_data
def test_one_epoch_on_real_fashion_mnist_beats_80_percent(fashion_mnist_dir: Path) -> None:
    data = load_fashion_mnist(fashion_mnist_dir)
    model, _ = train_model(
        HALF_MLP,
        train_images=data.train_images,
        train_labels=data.train_labels,
        test_images=data.test_images,
        test_labels=data.test_labels,
        epochs=1,
    )
    assert model.metadata.test_accuracy is not None and model.metadata.test_accuracy > 0.80
    assert model.metadata.data_fingerprint == data.fingerprint()


def test_nnet_imports_numpy_and_the_standard_library_only() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nnet, nnet.training, nnet.data, nnet.metrics\n"
        "banned = ('PIL', 'daemon', 'plugins', 'sqlalchemy', 'watchdog', 'tqdm', 'matplotlib')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(banned)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_public_name_of_nnet_loads_and_the_light_modules_need_no_numpy() -> None:
    import nnet

    assert set(nnet.__all__) == set(nnet._WHERE)
    for name in nnet.__all__:
        assert getattr(nnet, name) is not None
    code = "import sys, nnet.classes, nnet.errors; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
