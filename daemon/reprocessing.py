"""Re-labelling past items with the deployed model, keeping every earlier answer.

Each batch is read, preprocessed and predicted outside any transaction; one
short write transaction then copies each item's current prediction into
`PredictionRevision` and overwrites it, so the daemon's writes never wait long
and an interrupted run leaves every item either fully old or fully new.
Items the deployed version already predicted are skipped, so a repeated or
resumed run only does what is left. Files stay where they are.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon.config import Config
from daemon.db.database import Database
from daemon.db.schema import Prediction, PredictionRevision, utcnow
from daemon.history_filters import HistoryQuery
from daemon.model_registry import version_for
from daemon.prediction import build_chain
from nnet.model import TrainedModel
from plugins.chain import Chain
from plugins.errors import StepError

REVIEW, LABELED = "review", "labeled"


@dataclass(frozen=True)
class DeployedModel:
    """config.model, loaded, with its registered version and its preprocessing chain."""

    model: TrainedModel
    version: str
    chain: Chain


@dataclass
class ReprocessReport:
    selected: int = 0
    relabeled: int = 0  # got the deployed model's prediction
    changed: int = 0  # ... whose label differs from before
    missing: list[str] = field(default_factory=list)  # files no longer there
    failed: list[str] = field(default_factory=list)  # files the chain could not preprocess


def load_deployed(config: Config, db: Database) -> DeployedModel:
    from nnet.params_file import load_params  # numpy-heavy: only for commands that predict

    model = load_params(config.model)
    with db.sessions.begin() as session:
        version = version_for(session, model=model, path=config.model)
    return DeployedModel(model, version, build_chain(config, model=model))


def read_image(path: Path) -> bytes:
    """The file's bytes, refusing a symlink: history paths are our own files."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP and path.is_symlink():
            raise OSError(errno.ELOOP, "is a symbolic link; not followed", str(path)) from None
        raise
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def reprocess(
    db: Database,
    ids: Sequence[int],
    *,
    deployed: DeployedModel,
    low_confidence: float,
    batch_size: int = 64,
    progress: Callable[[int], None] = lambda n: None,
) -> ReprocessReport:
    """Re-label `ids` (from `select_for_reprocess`) in batches of `batch_size`."""
    report = ReprocessReport(selected=len(ids))
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        _reprocess_batch(db, batch, deployed=deployed, low_confidence=low_confidence, report=report)
        progress(len(batch))
    return report


def select_for_reprocess(
    db: Database, *, query: HistoryQuery, version: str, force: bool = False
) -> list[int]:
    """Matching items, minus duplicates and (unless `force`) those `version` already did."""
    stmt = query.apply(select(Prediction.id)).where(
        Prediction.status != "duplicate",
        Prediction.placed.is_(True),  # not yet where `path` says: the daemon is filing it
    )
    if not force:
        stmt = stmt.where(Prediction.model_version.is_distinct_from(version))
    with db.sessions.begin() as session:
        return list(session.scalars(stmt))


def _reprocess_batch(
    db: Database,
    ids: Sequence[int],
    *,
    deployed: DeployedModel,
    low_confidence: float,
    report: ReprocessReport,
) -> None:
    with db.sessions.begin() as session:
        rows = session.execute(
            select(Prediction.id, Prediction.path, Prediction.model_version).where(
                Prediction.id.in_(ids)
            )
        ).all()
    inputs, ready = [], []
    for prediction_id, path, seen_version in rows:
        try:
            inputs.append(deployed.chain.run_bytes(read_image(Path(path)), path=Path(path)))
        except FileNotFoundError:
            report.missing.append(path)
            continue
        except StepError as exc:
            report.failed.append(f"{path}: {exc}")
            continue
        except OSError as exc:
            report.failed.append(f"{path}: {exc.strerror or exc}")
            continue
        ready.append((prediction_id, seen_version))
    if not ready:
        return
    probabilities = deployed.model.predict_proba(np.stack(inputs))
    names = deployed.model.class_names
    with db.sessions.begin() as session:
        for (prediction_id, seen_version), probs in zip(ready, probabilities, strict=True):
            prediction = session.get(Prediction, prediction_id)
            if prediction is None or prediction.model_version != seen_version:
                continue  # changed meanwhile (another reprocess): leave it to that one
            best = int(np.argmax(probs))
            confidence = float(probs[best])
            label = names[best]
            session.add(_revision_of(session, prediction))
            report.relabeled += 1
            report.changed += label != prediction.label
            prediction.label = label
            prediction.confidence = confidence
            prediction.probabilities = [float(p) for p in probs]
            prediction.model_version = deployed.version
            prediction.status = REVIEW if confidence < low_confidence else LABELED
            prediction.error = None
            prediction.failed_plugin = None


def _revision_of(session: Session, prediction: Prediction) -> PredictionRevision:
    return PredictionRevision(
        prediction_id=prediction.id,
        label=prediction.label,
        confidence=prediction.confidence,
        probabilities=prediction.probabilities,
        model_version=prediction.model_version,
        status=prediction.status,
        error=prediction.error,
        created_at=_made_at(session, prediction),
        superseded_at=utcnow(),
    )


def _made_at(session: Session, prediction: Prediction) -> datetime:
    """When the current prediction was made: when the one before it was superseded."""
    previous = session.scalar(
        select(func.max(PredictionRevision.superseded_at)).where(
            PredictionRevision.prediction_id == prediction.id
        )
    )
    return previous or prediction.created_at
