"""The one way to train a model, so the CLI, main.py and retraining all get the same result.

It takes raw uint8 images rather than network inputs: normalization belongs to the
model (its InputFormat), and a caller that normalized differently would train a
model that disagrees with the daemon's preprocessing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np

from nnet.architectures import Architecture, build_network
from nnet.data import fingerprint
from nnet.history import History, TrainingObserver
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.network import Network


def train_model(
    arch: Architecture,
    *,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    initial: TrainedModel | None = None,
    sample_weight: np.ndarray | None = None,
    observer: TrainingObserver | None = None,
) -> tuple[TrainedModel, History]:
    """Train `arch` (or go on training a copy of `initial`) and score it on the test set.

    `epochs` and `batch_size` default to the architecture's recipe. With `initial`,
    its weights, input format and class names are the starting point (at
    `arch.warm_start_scale` of the learning rate) and `initial` itself is left
    untouched, so a daemon can keep serving it meanwhile. The test
    set is only reported on (per epoch and at the end); nothing is chosen by it.
    """
    epochs = epochs if epochs is not None else arch.epochs
    batch_size = batch_size if batch_size is not None else arch.batch_size
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch size must be positive, got {epochs} and {batch_size}")
    if initial is not None:
        network = copy_network(initial.network)
        input_format, class_names = initial.input_format, initial.class_names
        arch_name = arch.name if network.spec() == _normalized_spec(arch) else initial.metadata.arch
    else:
        network = build_network(arch.spec, seed=seed)
        input_format, class_names, arch_name = InputFormat(), CLASS_NAMES, arch.name
    X = _inputs(network, input_format, train_images)
    X_test = _inputs(network, input_format, test_images)
    optimizer = arch.optimizer()
    if initial is not None:
        optimizer.learning_rate *= arch.warm_start_scale
    started = time.perf_counter()
    history = network.fit(
        X,
        train_labels,
        epochs,
        batch_size,
        optimizer=optimizer,
        validation=(X_test, test_labels),
        seed=seed,
        augment=arch.augment,
        sample_weight=sample_weight,
        schedule=arch.schedule,
        observer=observer,
    )
    seconds = time.perf_counter() - started
    final = history.records[-1]
    metadata = TrainingMetadata(
        arch=arch_name,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        test_accuracy=final.val_accuracy,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        data_fingerprint=fingerprint(train_images, train_labels),
        extra={
            "test_loss": final.val_loss,
            "train_images": len(train_images),
            "train_seconds": round(seconds, 1),
            "learning_rate": optimizer.learning_rate,
            "warm_start_from": initial.sha256 if initial is not None else None,
        },
    )
    return TrainedModel(network, class_names, input_format, metadata), history


def copy_network(network: Network) -> Network:
    """An independent network with the same spec and arrays."""
    clone = build_network(network.spec(), seed=0)
    clone.load_state({k: v.copy() for k, v in network.state().items()})
    return clone


def _normalized_spec(arch: Architecture) -> dict[str, object]:
    # A built network spells out every default (init, l1, l2), the recipe may not.
    return build_network(arch.spec, seed=0).spec()


def _inputs(network: Network, fmt: InputFormat, images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 pixels 0..255, got {images.dtype}")
    return fmt.normalize(images).reshape((len(images), *network.input_shape))
