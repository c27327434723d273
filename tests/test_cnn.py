"""The convolutional network: layer semantics, augmentation, the params file, real data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nnet.architectures import LAYER_TYPES, build_network, get_architecture
from nnet.augment import Augment
from nnet.batchnorm import BatchNorm
from nnet.conv import Conv2D
from nnet.flatten import Flatten
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.optimizers import Adam
from nnet.params_file import load_params, save_params
from nnet.pooling import MaxPool2D
from nnet.training import train_model


def reference_conv(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, padding: int):
    """Cross-correlation written the slow, obvious way (the convention PyTorch uses)."""
    N, _, H, Wd = x.shape
    F, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = (H + 2 * padding - kh) // stride + 1
    Wo = (Wd + 2 * padding - kw) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[n, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                    out[n, f, i, j] = np.sum(patch * W[f]) + b[f]
    return out


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 1), (2, 1), (3, 2)])
def test_conv2d_matches_the_direct_definition(stride: int, padding: int) -> None:
    rng = np.random.default_rng(0)
    conv = Conv2D(3, 5, 3, stride=stride, padding=padding, rng=rng)
    conv.params["b"][...] = rng.standard_normal(5)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    out = conv.forward(x)
    expected = reference_conv(x, conv.params["W"], conv.params["b"], stride, padding)
    assert out.shape == expected.shape == (2, 5, *conv.output_shape(9, 8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_layer_shapes_through_the_cnn() -> None:
    network = build_network(get_architecture("cnn").spec, seed=0)
    shapes = []
    out = np.zeros((3, 1, 28, 28), dtype=np.float32)
    for layer in network.layers:
        out = layer.forward(out)
        shapes.append(out.shape)
    assert shapes[0] == (3, 32, 28, 28)
    assert shapes[1] == (3, 32, 14, 14)
    assert shapes[5] == (3, 64, 7, 7)
    assert shapes[8] == (3, 64 * 7 * 7)
    assert shapes[-1] == (3, 10)
    assert out.dtype == np.float32


def test_flatten_orders_features_as_nchw_whatever_the_memory_layout() -> None:
    nchw = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    channels_last = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(Flatten().forward(channels_last), nchw.reshape(2, -1))


def test_maxpool_2x2_takes_window_maxima() -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(MaxPool2D(2).forward(x)[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(MaxPool2D(3, stride=1).forward(x)[0, 0], [[10, 11], [14, 15]])


def test_the_network_takes_flat_square_or_nchw_images() -> None:
    network = build_network(get_architecture("cnn").spec, seed=0)
    images = np.random.default_rng(0).standard_normal((4, 28, 28)).astype(np.float32)
    square = network.predict_proba(images)
    assert square.shape == (4, 10)
    np.testing.assert_array_equal(network.predict_proba(images.reshape(4, 784)), square)
    np.testing.assert_array_equal(network.predict_proba(images.reshape(4, 1, 28, 28)), square)
    with pytest.raises(ValueError, match="do not fit"):
        network.predict_proba(np.zeros((4, 27, 28)))


# --- BatchNorm ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 3), (16, 3, 5, 5)])
def test_batchnorm_training_normalises_with_the_batch_statistics(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 4.0 + 3.0
    out = BatchNorm(3).forward(x, training=True)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    np.testing.assert_allclose(out.mean(axis=axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=axes), 1.0, atol=1e-3)


def test_batchnorm_inference_uses_running_statistics_only() -> None:
    rng = np.random.default_rng(1)
    bn = BatchNorm(2, momentum=0.5)
    for _ in range(30):
        bn.forward(rng.standard_normal((256, 2)).astype(np.float32) * 2.0 + 5.0, training=True)
    np.testing.assert_allclose(bn.buffers["running_mean"], 5.0, atol=0.3)
    np.testing.assert_allclose(bn.buffers["running_var"], 4.0, rtol=0.25)
    frozen = {k: v.copy() for k, v in bn.buffers.items()}
    batch = rng.standard_normal((8, 2)).astype(np.float32)
    alone = bn.forward(batch[:1])
    together = bn.forward(batch)
    # One image's output does not depend on its batch, and inference never updates the buffers.
    np.testing.assert_allclose(alone[0], together[0], rtol=1e-6)
    for key, value in frozen.items():
        np.testing.assert_array_equal(bn.buffers[key], value)
    expected = (batch - frozen["running_mean"]) / np.sqrt(frozen["running_var"] + bn.epsilon)
    np.testing.assert_allclose(together, expected, rtol=1e-5, atol=1e-5)
    # Training mode on the same batch differs: it uses the batch's own statistics.
    assert not np.allclose(bn.forward(batch, training=True), together, atol=1e-2)


# --- augmentation ------------------------------------------------------------------------


def images(n: int = 16, size: int = 12, seed: int = 0) -> np.ndarray:
    """Random blobs on a -1 background with a 2-pixel empty margin."""
    rng = np.random.default_rng(seed)
    out = np.full((n, 1, size, size), -1.0, dtype=np.float32)
    out[:, :, 2:-2, 2:-2] = rng.uniform(-1, 1, (n, 1, size - 4, size - 4))
    return out


def test_augment_keeps_shape_dtype_and_the_input_untouched() -> None:
    X = images()
    before = X.copy()
    out = Augment(flip=0.5, max_shift=2, erase=0.5)(X, np.random.default_rng(0))
    assert out.shape == X.shape
    assert out.dtype == X.dtype
    np.testing.assert_array_equal(X, before)


def test_flip_mirrors_left_to_right() -> None:
    X = images()
    out = Augment(flip=1.0, max_shift=0)(X, np.random.default_rng(0))
    np.testing.assert_array_equal(out, X[..., ::-1])


def test_shift_moves_by_at_most_two_pixels_and_keeps_the_content() -> None:
    X = images(n=200)
    out = Augment(flip=0.0, max_shift=2)(X, np.random.default_rng(1))
    seen = set()
    for original, shifted in zip(X, out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(np.roll(original, (dy, dx), axis=(1, 2)), shifted)
        ]
        assert matches, "each output is its input shifted by at most 2 pixels"
        seen.update(matches)
    assert len(seen) == 25  # every shift in [-2, 2]^2 occurs


def test_erasing_blanks_one_rectangle_with_the_background() -> None:
    X = images(n=50, size=20)
    out = Augment(flip=0.0, max_shift=0, erase=1.0, erase_size=(3, 6))(X, np.random.default_rng(2))
    changed = out != X
    assert np.all(out[changed] == -1.0)
    assert changed.any(axis=(1, 2, 3)).mean() > 0.9
    assert np.all(changed.sum(axis=(1, 2, 3)) <= 36)


def test_augment_is_reproducible_from_the_generator() -> None:
    augment = Augment(flip=0.5, max_shift=2, erase=0.5)
    first = augment(images(), np.random.default_rng(7))
    np.testing.assert_array_equal(first, augment(images(), np.random.default_rng(7)))


def test_the_cnn_recipe_augments_training_batches() -> None:
    arch = get_architecture("cnn")
    assert isinstance(arch.augment, Augment)
    assert arch.augment.flip > 0 and arch.augment.max_shift == 2
    assert get_architecture("mlp").augment is None


# --- the parameters file ------------------------------------------------------------------


def small_trained_cnn() -> TrainedModel:
    rng = np.random.default_rng(0)
    arch = get_architecture("cnn")
    network = build_network(arch.spec, seed=0)
    X = rng.uniform(-1, 1, (64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    network.fit(X, y, 1, 32, optimizer=arch.optimizer(), seed=0, augment=arch.augment)
    metadata = TrainingMetadata("cnn", 1, 32, 0, None, "2026-01-01T00:00:00Z", "test")
    return TrainedModel(network, CLASS_NAMES, InputFormat(), metadata)


def test_a_cnn_survives_the_parameters_file(tmp_path: Path) -> None:
    model = small_trained_cnn()
    bn = model.network.layers[2]
    assert isinstance(bn, BatchNorm)
    assert not np.allclose(bn.buffers["running_var"], 1.0)  # training moved the statistics
    save_params(model, tmp_path / "cnn.pickle")
    loaded = load_params(tmp_path / "cnn.pickle")
    assert loaded.network.input_shape == (1, 28, 28)
    assert [type(layer) for layer in loaded.network.layers] == [
        type(layer) for layer in model.network.layers
    ]
    for key, array in model.network.state().items():
        np.testing.assert_array_equal(loaded.network.state()[key], array)
    X = np.random.default_rng(1).uniform(-1, 1, (20, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_every_cnn_layer_rebuilds_from_its_spec() -> None:
    layers = [
        Conv2D(2, 4, (3, 2), stride=2, padding=1, init="glorot", l2=0.01),
        MaxPool2D(3, stride=2),
        Flatten(),
        BatchNorm(5, momentum=0.8, epsilon=1e-3),
    ]
    for layer in layers:
        spec = layer.spec()
        cls = LAYER_TYPES[spec.pop("type")]
        assert cls is type(layer)
        assert cls(**spec).config() == layer.config()


# --- real data ---------------------------------------------------------------------------


def read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


SMALL_CNN = {
    "input_shape": [1, 28, 28],
    "layers": [
        {"type": "Conv2D", "in_channels": 1, "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "BatchNorm", "n_features": 8},
        {"type": "ReLU"},
        {"type": "Conv2D", "in_channels": 8, "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "BatchNorm", "n_features": 16},
        {"type": "ReLU"},
        {"type": "Flatten"},
        {"type": "Dense", "n_inputs": 16 * 7 * 7, "n_outputs": 10, "init": "glorot"},
    ],
}


@pytest.mark.real_data
def test_a_few_hundred_steps_on_fashion_mnist_learn(fashion_mnist_dir: Path) -> None:
    """The cnn recipe's layers and augmentation, narrower so that it takes seconds."""
    images = read_idx(fashion_mnist_dir / "train-images-idx3-ubyte.gz", 16).reshape(-1, 784)
    labels = read_idx(fashion_mnist_dir / "train-labels-idx1-ubyte.gz", 8)
    fmt = InputFormat()
    train_x, train_y = fmt.normalize(images[:3000]), labels[:3000]
    test_x, test_y = fmt.normalize(images[-1000:]), labels[-1000:]
    network = build_network(SMALL_CNN, seed=0)
    augment = get_architecture("cnn").augment
    network.fit(train_x, train_y, 2, 32, optimizer=Adam(3e-3), seed=0, augment=augment)
    assert network.evaluate(test_x, test_y).accuracy > 0.75  # 188 steps


def test_train_model_trains_and_saves_the_cnn_recipe(tmp_path: Path) -> None:
    """The path `fashiond train --arch cnn` takes, on a few generated images."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (192, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 192).astype(np.uint8)
    model, history = train_model(
        get_architecture("cnn"),
        train_images=images[:128],
        train_labels=labels[:128],
        test_images=images[128:],
        test_labels=labels[128:],
        epochs=2,
        batch_size=64,
    )
    assert model.metadata.arch == "cnn"
    assert len(history.records) == 2
    save_params(model, tmp_path / "cnn.pickle")
    loaded = load_params(tmp_path / "cnn.pickle")
    inputs = model.input_format.normalize(images[128:])
    np.testing.assert_array_equal(loaded.predict_proba(inputs), model.predict_proba(inputs))
