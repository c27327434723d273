"""The model the daemon predicts with, swapped between batches when its file changes.

Retraining repoints `config.model` (a symlink) atomically; a user may also
copy a file over it. Before each batch the daemon stats the path, following
the link: a new (inode, mtime, size) means a new file, which is loaded with the
restricted loader and tried on one blank input before it replaces the old
model. A bad file keeps the old model, logged once per bad file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daemon.db.database import Database
from daemon.model_registry import version_for
from daemon.prediction import model_input
from nnet.errors import NnetError, ParamsFileError
from nnet.model import TrainedModel
from nnet.params_file import load_params
from plugins.api import ModelInput

log = logging.getLogger(__name__)

FileSignature = tuple[int, int, int]


@dataclass(frozen=True)
class LoadedModel:
    model: TrainedModel
    version: str
    model_input: ModelInput


class LiveModel:
    def __init__(self, path: Path, database: Database) -> None:
        self.path = path
        self._database = database
        self._signature = _signature_of(path)
        self.current = self._load(path)
        self._rejected: FileSignature | None = None

    def refresh(self) -> bool:
        """Swap in a changed model file; True when the model changed."""
        try:
            sig = _signature_of(self.path)
        except ParamsFileError:
            return False  # mid-replacement, or removed: keep predicting with what we have
        if sig in (self._signature, self._rejected):
            return False
        try:
            loaded = self._load(self.path)
        except (NnetError, ValueError, TypeError) as exc:
            self._rejected = sig
            log.warning(
                "kept model %s: the new %s is unusable: %s", self.current.version, self.path, exc
            )
            return False
        self._signature = sig
        if loaded.model.sha256 == self.current.model.sha256:
            return False
        old, self.current = self.current.version, loaded
        log.info("model swapped: %s -> %s (%s)", old, loaded.version, self.path)
        return True

    def _load(self, path: Path) -> LoadedModel:
        model = load_params(path)
        check_usable(model, path)
        with self._database.sessions.begin() as session:
            version = version_for(session, model=model, path=path)
        return LoadedModel(model=model, version=version, model_input=model_input(model))


def check_usable(model: TrainedModel, path: Path) -> None:
    """One prediction on a blank input: the shapes fit and the output is a distribution."""
    h, w = model.input_format.image_size
    try:
        probs = model.predict_proba(np.zeros((1, h, w), dtype=np.float32))
    except (ValueError, IndexError) as exc:
        raise ParamsFileError(f"{path} does not fit its own input format: {exc}") from None
    if probs.shape != (1, len(model.class_names)) or not np.all(np.isfinite(probs)):
        raise ParamsFileError(
            f"{path} gives {probs.shape[1]} outputs for {len(model.class_names)} classes, "
            "or non-finite ones",
            hint="retrain the model",
        )


def _signature_of(path: Path) -> FileSignature:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ParamsFileError(
            f"parameters file {path} not found",
            hint="train one with 'fashiond train', or pass --model FILE",
        ) from None
    except OSError as exc:
        raise ParamsFileError(f"cannot read {path}: {exc.strerror}") from None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
