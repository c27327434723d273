"""Model versions: the one place that names a parameters file `v0001`, `v0002`, ...

A model is identified by the SHA-256 of its payload, so the same file under
another path (a `current` pointer, a copy) is the same version.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon.db.schema import ModelVersion
from nnet.model import TrainedModel


def version_for(session: Session, *, model: TrainedModel, path: Path) -> str:
    """The version name of a loaded model, registered as active on first sight."""
    row = session.scalar(select(ModelVersion).where(ModelVersion.sha256 == model.sha256))
    if row is not None:
        return row.version
    row = ModelVersion(
        version=next_version_name(session),
        sha256=model.sha256,
        path=str(path),
        arch=model.metadata.arch,
        epochs=model.metadata.epochs,
        test_accuracy=model.metadata.test_accuracy,
        status="active",
    )
    session.add(row)
    session.flush()
    return row.version


def next_version_name(session: Session) -> str:
    count = session.scalar(select(func.count()).select_from(ModelVersion)) or 0
    return f"v{count + 1:04d}"
