"""A user's label for a past prediction: recorded, learned from, and filed.

The same order as the daemon: the row is committed first, naming where the
file will go (`Correction.moved_from` -> `moved_to`, and `Prediction.path`),
then the file moves. A crash in between leaves a row whose file is still at
`moved_from`; running the same `fashiond correct` again finishes that move
instead of recording a second correction. A move never overwrites a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.config import Config
from daemon.db.database import Database
from daemon.db.schema import Correction, Prediction
from daemon.errors import DaemonStateError, UsageError
from daemon.filing import safe_name
from plugins.errors import StepError

LABELED, REVIEW, FAILED, DUPLICATE = "labeled", "review", "failed", "duplicate"

PixelsReader = Callable[[Path], np.ndarray]  # a file -> uint8 (H, W), 0 = background


@dataclass(frozen=True)
class CorrectionOutcome:
    prediction_id: int
    previous_label: str | None
    label: str
    correction_id: int | None  # None: nothing new was recorded
    moved_from: Path | None = None
    moved_to: Path | None = None
    warnings: tuple[str, ...] = ()


def correct_prediction(
    db: Database, *, prediction_id: int, label: str, config: Config, read_pixels: PixelsReader
) -> CorrectionOutcome:
    with db.sessions.begin() as session:
        prediction = _prediction(session, prediction_id)
        pending = _pending_move(session, prediction)
        current_path = Path(prediction.path)
        previous = prediction.corrected_label or prediction.label
    finished: tuple[Path, Path] | None = None
    if pending is not None:
        # An earlier run committed but did not move: finish that first.
        move_file(*pending)
        remove_empty_label_folder(pending[0].parent, config=config)
        finished = pending
    if previous == label and prediction.corrected_label is not None:
        moved_from, moved_to = finished or (None, None)
        return CorrectionOutcome(prediction_id, previous, label, None, moved_from, moved_to)

    warnings: list[str] = []
    pixels = _pixels(current_path, read_pixels, warnings)
    target = _target(current_path, label=label, config=config)
    with db.sessions.begin() as session:
        prediction = _prediction(session, prediction_id)
        correction = Correction(
            prediction_id=prediction_id,
            previous_label=prediction.corrected_label or prediction.label,
            label=label,
            pixels=pixels.tobytes() if pixels is not None else None,
            height=int(pixels.shape[0]) if pixels is not None else None,
            width=int(pixels.shape[1]) if pixels is not None else None,
            moved_from=str(current_path) if target is not None else None,
            moved_to=str(target) if target is not None else None,
        )
        session.add(correction)
        prediction.corrected_label = label
        if prediction.status == REVIEW:
            # A person has now looked at it: it is no longer waiting for review.
            prediction.status = LABELED
        if target is not None:
            prediction.path = str(target)
        session.flush()
        correction_id = correction.id
    if target is not None:
        move_file(current_path, target)
        remove_empty_label_folder(current_path.parent, config=config)
    return CorrectionOutcome(
        prediction_id,
        previous,
        label,
        correction_id,
        moved_from=current_path if target is not None else None,
        moved_to=target,
        warnings=tuple(warnings),
    )


def _prediction(session: Session, prediction_id: int) -> Prediction:
    prediction = session.get(Prediction, prediction_id)
    if prediction is None:
        raise UsageError(
            f"no prediction with id {prediction_id}", hint="'fashiond history' lists the ids"
        )
    if not prediction.placed:
        # The daemon committed the row but has not moved the file yet: moving it now
        # would race the daemon's own move.
        raise DaemonStateError(
            f"the daemon has not finished filing prediction {prediction_id} yet",
            hint="try again in a moment; a restarted daemon finishes it",
        )
    if prediction.status == FAILED:
        reason = prediction.error or "no reason recorded"
        raise UsageError(
            f"prediction {prediction_id} failed ({reason}): it has no prediction to correct",
            hint="fix or replace the file and drop it into the inbox again",
        )
    if prediction.status == DUPLICATE and prediction.duplicate_of is not None:
        original = prediction.duplicate_of
        raise UsageError(
            f"prediction {prediction_id} is a duplicate of prediction {original}",
            hint=f"correct the original: fashiond correct {original} LABEL",
        )
    return prediction


def remove_empty_label_folder(folder: Path, *, config: Config) -> None:
    """Drop review/<label>/ or labeled/<label>/ once its last file has moved out.

    Only a label folder directly inside the review or labeled folder, never
    those folders themselves; rmdir refuses a folder that is not empty, so a
    file the daemon has just put there keeps it (and the daemon makes a
    missing label folder again when it needs it).
    """
    if folder.is_symlink():
        return
    if folder.parent.resolve() not in {config.review_dir.resolve(), config.labeled_dir.resolve()}:
        return
    with contextlib.suppress(OSError):  # not empty, or already gone
        folder.rmdir()


def _pending_move(session: Session, prediction: Prediction) -> tuple[Path, Path] | None:
    latest = session.scalars(
        select(Correction)
        .where(Correction.prediction_id == prediction.id)
        .order_by(Correction.id.desc())
        .limit(1)
    ).first()
    if latest is None or latest.moved_from is None or latest.moved_to is None:
        return None
    source, target = Path(latest.moved_from), Path(latest.moved_to)
    if str(target) != prediction.path or os.path.lexists(target):
        return None
    return (source, target) if os.path.lexists(source) else None


def _pixels(path: Path, read_pixels: PixelsReader, warnings: list[str]) -> np.ndarray | None:
    if not path.is_file():
        warnings.append(f"{path} is gone: the correction is stored without its pixels")
        return None
    try:
        pixels = read_pixels(path)
    except StepError as exc:
        warnings.append(f"cannot preprocess {path} ({exc}): stored without its pixels")
        return None
    except OSError as exc:
        warnings.append(f"cannot read {path} ({exc.strerror}): stored without its pixels")
        return None
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def _target(current: Path, *, label: str, config: Config) -> Path | None:
    """Where the file goes: labeled/<label>/<name>, a free name; None: it stays."""
    if config.output == "leave" or not os.path.lexists(current):
        return None
    folder = config.labeled_dir / safe_name(label)
    if current.parent == folder:
        return None
    return free_path(folder / safe_name(current.name))


def free_path(wanted: Path) -> Path:
    """`wanted`, or `stem-1.ext`, `stem-2.ext`, ... whichever does not exist yet."""
    stem, dot, suffix = wanted.name.rpartition(".")
    if not (dot and stem):
        stem, suffix = wanted.name, ""
    else:
        suffix = "." + suffix
    candidate, n = wanted, 0
    while os.path.lexists(candidate):
        n += 1
        candidate = wanted.with_name(f"{stem}-{n}{suffix}")
    return candidate


def move_file(source: Path, target: Path) -> None:
    """Move without ever overwriting: a hard link claims the name, then the source goes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
        # Another filesystem, or one without hard links: copy under a hidden name, publish.
        temp = target.with_name(f".{target.name}.fashiond-tmp")
        shutil.copy2(source, temp, follow_symlinks=False)
        if os.path.lexists(target):
            temp.unlink()
            raise FileExistsError(errno.EEXIST, "target exists", str(target)) from None
        temp.rename(target)
    source.unlink()
