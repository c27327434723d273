"""Saving and loading a trained model as a pickled parameters file.

Layout: an outer pickle `{"format", "version", "sha256", "payload"}` whose payload
is itself a pickle (bytes) of plain data: the architecture spec, class names,
input format, training metadata and the arrays. The checksum is verified before
the payload is read, and both levels go through the restricted unpickler.

The original project's files, a bare list of (weights, biases) pairs for a
ReLU MLP on inputs scaled to [-1, 1], still load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nnet.activations import ReLU
from nnet.architectures import build_network
from nnet.dense import Dense
from nnet.errors import ParamsFileError, UnsafePickleError
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.network import Network
from nnet.safe_pickle import safe_loads

FORMAT = "fashiond-params"
FORMAT_VERSION = 1


def save_params(model: TrainedModel, path: str | os.PathLike[str]) -> str:
    """Write atomically and return the payload's SHA-256.

    The bytes go to a temporary file in the same folder, are fsynced, and only
    then renamed over `path`, so a crash never leaves a half-written file there.
    """
    payload = pickle.dumps(_payload(model), protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest()
    envelope = {"format": FORMAT, "version": FORMAT_VERSION, "sha256": digest, "payload": payload}
    _write_atomically(Path(path), pickle.dumps(envelope, protocol=pickle.HIGHEST_PROTOCOL))
    model.sha256 = digest
    return digest


def load_params(path: str | os.PathLike[str]) -> TrainedModel:
    path = Path(path)
    data = _read(path)
    try:
        envelope = safe_loads(data)
    except UnsafePickleError as exc:
        raise UnsafePickleError(
            f"{path} is unsafe: {exc}", hint="only load parameters files you trust"
        ) from None
    except Exception:
        raise _corrupt(path) from None
    if isinstance(envelope, list):
        return _from_legacy(envelope, path)
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise ParamsFileError(
            f"{path} is not a fashiond parameters file",
            hint="pass a file written by 'fashiond train' or 'python main.py --save'",
        )
    if envelope.get("version") != FORMAT_VERSION:
        raise ParamsFileError(
            f"{path} has format version {envelope.get('version')!r}; "
            f"this fashiond reads version {FORMAT_VERSION}",
            hint="retrain the model with this fashiond, or upgrade fashiond",
        )
    payload = envelope.get("payload")
    if not isinstance(payload, bytes) or hashlib.sha256(payload).hexdigest() != envelope.get(
        "sha256"
    ):
        raise ParamsFileError(
            f"{path} is corrupt: its checksum does not match its contents",
            hint="restore the file or retrain the model",
        )
    try:
        model = _model_from_payload(safe_loads(payload))
    except UnsafePickleError as exc:
        raise UnsafePickleError(
            f"{path} is unsafe: {exc}", hint="only load parameters files you trust"
        ) from None
    except Exception as exc:  # whatever a damaged payload trips over, it is a bad file
        raise ParamsFileError(
            f"{path} is corrupt: {exc}", hint="restore the file or retrain"
        ) from None
    model.sha256 = envelope["sha256"]
    return model


def _payload(model: TrainedModel) -> dict[str, Any]:
    return {
        "architecture": model.network.spec(),
        "class_names": list(model.class_names),
        "input": dataclasses.asdict(model.input_format),
        "metadata": dataclasses.asdict(model.metadata),
        "state": {k: np.ascontiguousarray(v) for k, v in model.network.state().items()},
    }


def _model_from_payload(payload: dict[str, Any]) -> TrainedModel:
    network = build_network(payload["architecture"], seed=0)
    network.load_state(payload["state"])
    class_names = tuple(str(name) for name in payload["class_names"])
    n_outputs = len(network.predict_proba(np.zeros((1, *network.input_shape), np.float32))[0])
    if n_outputs != len(class_names):
        raise ValueError(f"the network has {n_outputs} outputs but {len(class_names)} class names")
    fmt = payload["input"]
    return TrainedModel(
        network=network,
        class_names=class_names,
        input_format=InputFormat(
            image_size=tuple(fmt["image_size"]), offset=fmt["offset"], scale=fmt["scale"]
        ),
        metadata=TrainingMetadata(**payload["metadata"]),
    )


def _from_legacy(pairs: list[Any], path: Path) -> TrainedModel:
    """The original project's `--save` output: [(W1, b1), (W2, b2), ...]."""
    layers = []
    try:
        for i, (W, b) in enumerate(pairs):
            W = np.asarray(W, dtype=np.float32)
            dense = Dense(W.shape[0], W.shape[1], rng=np.random.default_rng(0))
            dense.params["W"][...] = W
            dense.params["b"][...] = np.asarray(b, dtype=np.float32).reshape(-1)
            layers.append(dense)
            if i < len(pairs) - 1:
                layers.append(ReLU())
    except (TypeError, ValueError, IndexError):
        raise ParamsFileError(
            f"{path} is a list but not of (weights, biases) pairs",
            hint="pass a file written by 'fashiond train' or 'python main.py --save'",
        ) from None
    if not layers:
        raise ParamsFileError(f"{path} holds no layers")
    network = Network(layers, input_shape=(layers[0].params["W"].shape[0],))
    metadata = TrainingMetadata(
        arch="legacy-mlp",
        epochs=0,
        batch_size=0,
        seed=None,
        test_accuracy=None,
        created_at="",
        data_fingerprint="",
    )
    model = TrainedModel(network, CLASS_NAMES, InputFormat(), metadata)
    model.sha256 = hashlib.sha256(pickle.dumps(network.state())).hexdigest()
    return model


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ParamsFileError(
            f"parameters file {path} not found",
            hint="train one with 'fashiond train', or pass --model FILE",
        ) from None
    except IsADirectoryError:
        raise ParamsFileError(f"{path} is a directory, not a parameters file") from None
    except OSError as exc:
        raise ParamsFileError(f"cannot read {path}: {exc.strerror}") from None


def _corrupt(path: Path) -> ParamsFileError:
    return ParamsFileError(
        f"{path} is truncated or corrupt", hint="restore the file or retrain the model"
    )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); a model is for every user of the daemon.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
