"""Tables, in SQLAlchemy 2.0's declarative style.

Times are stored as naive UTC. Probabilities are a JSON array in class order,
so `json_extract(probabilities, '$[3]')` works from the sqlite3 shell.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 2


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class SchemaInfo(Base):
    """One row holding the schema version, so a newer fashiond can migrate in place."""

    __tablename__ = "schema_info"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ModelVersion(Base):
    """A parameters file the daemon served or a retrain run produced (see daemon.model_registry).

    A run's row is made as `candidate` when it starts, so even a run that dies
    leaves a trace; `created_at` is then the run's start and `trigger` says what
    started it. Models the daemon merely met have no trigger.
    """

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    parent_version: Mapped[str | None] = mapped_column(String(32))
    arch: Mapped[str] = mapped_column(String(32))
    epochs: Mapped[int | None]
    test_accuracy: Mapped[float | None]
    corrections_accuracy: Mapped[float | None]
    # candidate | active | rejected | retired | failed
    status: Mapped[str] = mapped_column(String(16))
    training_seconds: Mapped[float | None]
    reason: Mapped[str | None] = mapped_column(Text)
    # schedule | catch-up | manual, for retrain runs; None for a model registered on sight.
    trigger: Mapped[str | None] = mapped_column(String(16))
    finished_at: Mapped[datetime | None]


class Prediction(Base):
    """One row per file the daemon took in, holding its newest prediction."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(Text)  # the name it arrived with
    path: Mapped[str] = mapped_column(Text)  # where it is now
    sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None]
    probabilities: Mapped[list[float] | None] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(32))
    # labeled | review | failed | duplicate
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    failed_plugin: Mapped[str | None] = mapped_column(String(64))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    # The user's label from `fashiond correct`; `label` keeps the model's.
    corrected_label: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processing_ms: Mapped[float | None]  # read, hash, preprocess and this file's share of predict
    # Where the file sat in the inbox when it was taken in (absolute), so that a
    # restart can finish a move a crash interrupted.
    inbox_path: Mapped[str | None] = mapped_column(Text)
    # False between the commit of the row and the file reaching `path`: the
    # daemon commits first, then moves, then marks the row placed.
    placed: Mapped[bool] = mapped_column(default=True, server_default=true())

    __table_args__ = (
        # Duplicate lookups ask for a hash among labeled/review rows. With an index on
        # sha256 alone, SQLite chose the status index instead and read every labeled
        # row per batch: ingest slowed as the table grew. Both columns, so it cannot.
        Index("ix_predictions_sha256_status", "sha256", "status"),
        Index("ix_predictions_created_at", "created_at"),
        Index("ix_predictions_label_created_at", "label", "created_at"),
        Index("ix_predictions_status_created_at", "status", "created_at"),
        Index("ix_predictions_model_version_created_at", "model_version", "created_at"),
        Index("ix_predictions_placed", "placed"),
        # history/stats: the confidence filters and histogram scan this index, not the table.
        Index("ix_predictions_confidence", "confidence"),
    )


class PredictionRevision(Base):
    """A prediction that `fashiond reprocess` superseded, kept so every model's answer survives."""

    __tablename__ = "prediction_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None]
    probabilities: Mapped[list[float] | None] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]  # when that prediction was made
    superseded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Correction(Base):
    """A user's label for one prediction, with the network input retraining learns from.

    `pixels` is the preprocessed image before normalisation: `height * width`
    uint8 bytes, 0 = background, exactly like a Fashion-MNIST image, so that
    retraining can append it to the training set whatever model made it.
    """

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), index=True)
    previous_label: Mapped[str | None] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(32))
    pixels: Mapped[bytes | None] = mapped_column(LargeBinary)
    height: Mapped[int | None]
    width: Mapped[int | None]
    # The move this correction asked for, recorded before it happens so that
    # repeating `fashiond correct` after a crash finishes it instead of losing the file.
    moved_from: Mapped[str | None] = mapped_column(Text)
    moved_to: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
