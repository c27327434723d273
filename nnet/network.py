"""An ordered list of layers trained against softmax cross-entropy."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnet.activations import softmax
from nnet.batch_split import split_batches
from nnet.history import EpochRecord, History, TrainingObserver
from nnet.layer import Layer
from nnet.loss import SoftmaxCrossEntropy
from nnet.optimizers import Adam, Optimizer, ParamTriple

# Transforms a training batch (already shaped to the input) with the given generator.
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]

# Maps (epoch starting at 0, number of epochs) to a learning-rate factor.
Schedule = Callable[[int, int], float]

# 256, not more: a CNN's im2col matrix for 1024 images is ~230 MB, and at that size
# prediction ran at half the rate (memory, not arithmetic); the MLP does not mind.
PREDICT_BATCH = 256


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float


class Network:
    def __init__(self, layers: Sequence[Layer], *, input_shape: Sequence[int]) -> None:
        if not layers:
            raise ValueError("a network needs at least one layer")
        self.layers = list(layers)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.loss = SoftmaxCrossEntropy()
        self.layers[0].input_grad_needed = False

    # --- the passes -------------------------------------------------------------

    def forward(self, X: np.ndarray, *, training: bool = False) -> np.ndarray:
        out = X
        for layer in self.layers:
            out = layer.forward(out, training=training)
        return out

    def backward(self, grad: np.ndarray) -> None:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)

    def parameters(self) -> Iterator[ParamTriple]:
        for i, layer in enumerate(self.layers):
            for name, param in layer.params.items():
                yield f"{i}.{name}", param, layer.grads[name]

    def penalty(self) -> float:
        return sum(layer.penalty() for layer in self.layers)

    def train_step(
        self,
        X: np.ndarray,
        y: np.ndarray,
        optimizer: Optimizer,
        *,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, int]:
        """One optimisation step on one batch; returns (loss, number correct)."""
        logits = self.forward(X, training=True)
        loss = self.loss.forward(logits, y, sample_weight) + self.penalty()
        correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
        self.backward(self.loss.backward())
        optimizer.step(self.parameters())
        return loss, correct

    # --- training -----------------------------------------------------------------

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        epochs: int,
        batch_size: int = 128,
        *,
        optimizer: Optimizer | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        shuffle: bool = True,
        seed: int | None = None,
        augment: Augment | None = None,
        sample_weight: np.ndarray | None = None,
        schedule: Schedule | None = None,
        observer: TrainingObserver | None = None,
    ) -> History:
        """Train in place. The same seed, data and initial weights give the same run.

        `schedule(epoch, epochs)` (epoch 0-based) scales the optimizer's learning
        rate for that epoch; `sample_weight` weights each example's loss.
        """
        X = self._shaped(X)
        y = np.asarray(y, dtype=np.intp)
        if len(X) != len(y):
            raise ValueError(f"{len(X)} inputs but {len(y)} labels")
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=np.float32)
            if weights.shape != (len(X),):
                raise ValueError(f"{len(X)} inputs but {weights.shape} sample weights")
        optimizer = optimizer if optimizer is not None else Adam()
        shuffle_seed, *layer_seeds = np.random.SeedSequence(seed).spawn(1 + len(self.layers))
        order_rng = np.random.default_rng(shuffle_seed)
        for layer, layer_seed in zip(self.layers, layer_seeds, strict=True):
            layer.reseed(np.random.default_rng(layer_seed))
        batches = -(-len(X) // batch_size)
        history = History()
        with self._split_batches():
            for epoch in range(1, epochs + 1):
                if observer is not None:
                    observer.epoch_started(epoch, epochs, batches)
                started = time.perf_counter()
                if schedule is not None:
                    optimizer.scale = schedule(epoch - 1, epochs)
                order = order_rng.permutation(len(X)) if shuffle else np.arange(len(X))
                loss_sum = correct = 0.0
                for start in range(0, len(X), batch_size):
                    idx = order[start : start + batch_size]
                    xb = X[idx]
                    if augment is not None:
                        xb = augment(xb, order_rng)
                    wb = weights[idx] if weights is not None else None
                    loss, hits = self.train_step(xb, y[idx], optimizer, sample_weight=wb)
                    loss_sum += loss * len(idx)
                    correct += hits
                    if observer is not None:
                        observer.batch_finished(loss, hits / len(idx))
                val = self.evaluate(*validation) if validation is not None else None
                record = EpochRecord(
                    epoch=epoch,
                    loss=loss_sum / len(X),
                    accuracy=correct / len(X),
                    val_loss=val.loss if val else None,
                    val_accuracy=val.accuracy if val else None,
                    seconds=time.perf_counter() - started,
                )
                history.records.append(record)
                if observer is not None:
                    observer.epoch_finished(record)
        return history

    # --- inference: batched so memory stays bounded for any N -----------------------

    def predict_proba(self, X: np.ndarray, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        X = self._shaped(X)
        out: np.ndarray | None = None
        with self._split_batches() if len(X) > batch_size else nullcontext():
            for start in range(0, len(X), batch_size):
                probs = softmax(self.forward(X[start : start + batch_size]))
                if out is None:
                    out = np.empty((len(X), probs.shape[1]), dtype=np.float32)
                out[start : start + len(probs)] = probs
        if out is None:
            return np.empty((0, self._n_classes()), dtype=np.float32)
        return out

    def predict(self, X: np.ndarray, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        return self.predict_proba(X, batch_size=batch_size).argmax(axis=1)

    def evaluate(
        self, X: np.ndarray, y: np.ndarray, *, batch_size: int = PREDICT_BATCH
    ) -> Evaluation:
        X = self._shaped(X)
        y = np.asarray(y, dtype=np.intp)
        if len(X) == 0:
            raise ValueError("cannot evaluate on an empty set")
        loss_sum = correct = 0.0
        with self._split_batches():
            for start in range(0, len(X), batch_size):
                logits = self.forward(X[start : start + batch_size])
                yb = y[start : start + batch_size]
                loss_sum += self.loss.forward(logits, yb) * len(yb)
                correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
        return Evaluation(loss=loss_sum / len(X), accuracy=correct / len(X))

    # --- what a parameters file stores ---------------------------------------------

    def spec(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "layers": [layer.spec() for layer in self.layers],
        }

    def state(self) -> dict[str, np.ndarray]:
        """Every saved array, trained or not, keyed `<layer index>.<name>`."""
        state = {}
        for i, layer in enumerate(self.layers):
            for name, array in (layer.params | layer.buffers).items():
                state[f"{i}.{name}"] = array
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays in place, after checking that every key and shape matches."""
        own = self.state()
        missing, extra = own.keys() - state.keys(), state.keys() - own.keys()
        if missing or extra:
            raise ValueError(
                f"state does not match: missing {sorted(missing)}, extra {sorted(extra)}"
            )
        for key, array in own.items():
            given = np.asarray(state[key])
            if given.shape != array.shape:
                raise ValueError(f"state {key} has shape {given.shape}, expected {array.shape}")
            array[...] = given

    def _split_batches(self) -> AbstractContextManager[object]:
        """Split batches over the cores only for networks whose layers gain from it:
        an MLP's products are too small to split (20,000 images on 2 cores took
        0.34 s split against 0.23 s on OpenBLAS's own two threads); a CNN's are not."""
        if any(layer.worth_splitting for layer in self.layers):
            return split_batches()
        return nullcontext()

    def _shaped(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        size = int(np.prod(self.input_shape))
        if X.ndim == 0 or X.size != len(X) * size:
            raise ValueError(f"inputs of shape {X.shape} do not fit input shape {self.input_shape}")
        return X.reshape((len(X), *self.input_shape))

    def _n_classes(self) -> int:
        probe = np.zeros((1, *self.input_shape), dtype=np.float32)
        return int(self.forward(probe).shape[1])
