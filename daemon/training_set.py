"""What a retrain learns from and is judged on: Fashion-MNIST plus the user's corrections.

Weighting: each correction in the training split is repeated
`CORRECTION_REPEATS` times, so that a few dozen corrections count against
60,000 Fashion-MNIST images without drowning them (with 100 corrections they
are 1,000 of 61,000 examples, about 1.6%). Repetition rather than a loss
weight works for every architecture and keeps mini-batches unweighted.

Held-out split: a corrected image is held out for evaluation when a seeded hash of
its prediction id falls in the first `HOLDOUT_FRACTION` of the range. The choice depends
on that id alone, so an image held out once is held out in every later run
and no run, warm-started or not, ever trains on what it is judged on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from daemon.dataset import load_dataset
from daemon.db.schema import Correction
from nnet.model import CLASS_NAMES

CORRECTION_REPEATS = 10
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = "fashiond-holdout-1"


@dataclass(frozen=True)
class LabeledImages:
    images: np.ndarray  # uint8 (N, H, W), 0 = background
    labels: np.ndarray  # int64 class indices into CLASS_NAMES

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def empty(cls, size: tuple[int, int]) -> LabeledImages:
        return cls(np.empty((0, *size), np.uint8), np.empty(0, np.int64))


@dataclass(frozen=True)
class Corrections:
    train: LabeledImages
    held_out: LabeledImages
    skipped: int  # wrong size, no pixels, or a label that is not a class name


@dataclass(frozen=True)
class TrainingSet:
    train: LabeledImages  # Fashion-MNIST train (maybe a subset) + repeated corrections
    test: LabeledImages  # Fashion-MNIST test (maybe a subset)
    corrections: Corrections
    source: Path
    fingerprint: str


def load_training_set(
    session: Session | None, *, data: Path | None, limit: int | None, seed: int
) -> TrainingSet:
    """`limit` keeps a seeded random subset of each Fashion-MNIST split: for tests and trials."""
    dataset = load_dataset(data)
    rng = np.random.default_rng(seed)
    train = _subset(dataset.train_images, dataset.train_labels, limit, rng)
    test = _subset(dataset.test_images, dataset.test_labels, limit, rng)
    size = (int(train.images.shape[1]), int(train.images.shape[2]))
    corrections = load_corrections(session, size=size) if session is not None else None
    if corrections is None:
        corrections = Corrections(LabeledImages.empty(size), LabeledImages.empty(size), 0)
    extra = corrections.train
    combined = LabeledImages(
        np.concatenate([train.images, np.repeat(extra.images, CORRECTION_REPEATS, axis=0)]),
        np.concatenate([train.labels, np.repeat(extra.labels, CORRECTION_REPEATS)]),
    )
    return TrainingSet(combined, test, corrections, dataset.source, dataset.fingerprint())


def load_corrections(session: Session, *, size: tuple[int, int]) -> Corrections:
    """Every usable correction, newest label per prediction, split into train and held out."""
    # Only the columns learned from, so other columns of the table can come and go.
    query = select(
        Correction.prediction_id,
        Correction.label,
        Correction.pixels,
        Correction.height,
        Correction.width,
    ).order_by(Correction.id)
    newest: dict[int, Row[Any]] = {}
    for row in session.execute(query):
        newest[row.prediction_id] = row
    train: list[tuple[np.ndarray, int]] = []
    held: list[tuple[np.ndarray, int]] = []
    skipped = 0
    for row in newest.values():
        example = _example(row, size=size)
        if example is None:
            skipped += 1
        else:
            (held if is_held_out(row.prediction_id) else train).append(example)
    return Corrections(_stack(train, size), _stack(held, size), skipped)


def is_held_out(prediction_id: int) -> bool:
    digest = hashlib.sha256(f"{HOLDOUT_SEED}:{prediction_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < HOLDOUT_FRACTION * 2**64


def _example(row: Row[Any], *, size: tuple[int, int]) -> tuple[np.ndarray, int] | None:
    if row.pixels is None or (row.height, row.width) != size or row.label not in CLASS_NAMES:
        return None
    if len(row.pixels) != size[0] * size[1]:
        return None
    pixels = np.frombuffer(row.pixels, dtype=np.uint8).reshape(size)
    return pixels, CLASS_NAMES.index(row.label)


def _stack(examples: list[tuple[np.ndarray, int]], size: tuple[int, int]) -> LabeledImages:
    if not examples:
        return LabeledImages.empty(size)
    return LabeledImages(
        np.stack([pixels for pixels, _ in examples]),
        np.array([label for _, label in examples], dtype=np.int64),
    )


def _subset(
    images: np.ndarray, labels: np.ndarray, limit: int | None, rng: np.random.Generator
) -> LabeledImages:
    if limit is None or limit >= len(labels):
        return LabeledImages(images, labels.astype(np.int64))
    keep = np.sort(rng.choice(len(labels), size=limit, replace=False))
    return LabeledImages(images[keep], labels[keep].astype(np.int64))
