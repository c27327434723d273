"""Recording one micro-batch: one prediction call, one transaction, then the moves.

The order is what makes "exactly once" survive kill -9: every row is committed
(with its chosen target and `placed = False`) before any file moves, and the
placed marks ride along in the next batch's transaction. A restart finds the
unplaced rows and finishes their moves (see `daemon.reconcile`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from daemon.db.database import Database
from daemon.db.ingest import Original, find_originals, insert_rows, mark_placed, set_path
from daemon.db.schema import utcnow
from daemon.examine import Examined
from daemon.filing import Filing, OutputMode, error_note_path, place, write_error_note
from daemon.inbox import Inbox
from daemon.live_model import LoadedModel

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What one batch did, for the logs, the counters and the heartbeat."""

    counts: Counter[str] = field(default_factory=Counter)
    finished: list[Path] = field(default_factory=list)  # files now placed (or left, by config)
    stuck: list[Path] = field(default_factory=list)  # recorded, but the move failed
    errors: list[str] = field(default_factory=list)  # "<name>: <why>", in order

    @property
    def last_error(self) -> str | None:
        return self.errors[-1] if self.errors else None

    @property
    def recorded(self) -> int:
        return sum(self.counts.values())


@dataclass
class _Row:
    examined: Examined
    values: dict[str, Any]
    original_index: int | None = None  # a duplicate of an earlier file in this batch
    target: Path | None = None


class Recorder:
    def __init__(
        self,
        *,
        database: Database,
        inbox: Inbox,
        filing: Filing,
        low_confidence: float,
    ) -> None:
        self._database = database
        self._inbox = inbox
        self._filing = filing
        self._low_confidence = low_confidence
        self._to_mark: list[int] = []

    @property
    def database(self) -> Database:
        return self._database

    @property
    def mode(self) -> OutputMode:
        return self._filing.mode

    def record(self, examined: list[Examined], loaded: LoadedModel) -> BatchReport:
        examined = [e for e in examined if not e.vanished]
        report = BatchReport()
        if not examined:
            return report
        probabilities, predict_ms = _predict(examined, loaded)
        try:
            rows = self._commit(examined, probabilities, predict_ms, loaded)
        finally:
            self._filing.release()  # taken names are on disk or in rows now, or rolled back
        self._place_all(rows, report)
        return report

    def _commit(
        self,
        examined: list[Examined],
        probabilities: np.ndarray,
        predict_ms: float,
        loaded: LoadedModel,
    ) -> list[_Row]:
        """One transaction: the previous batch's placed marks, then this batch's rows."""
        marks = self._to_mark
        with self._database.sessions.begin() as session:
            mark_placed(session, marks)
            originals = find_originals(
                session, {e.sha256 for e in examined if e.pixels is not None}
            )
            rows = self._rows(examined, probabilities, predict_ms, loaded, originals)
            firsts = [r for r in rows if r.original_index is None]
            ids = insert_rows(session, [r.values for r in firsts])
            for row, row_id in zip(firsts, ids, strict=True):
                row.values["id"] = row_id
            dups = [r for r in rows if r.original_index is not None]
            for row in dups:
                row.values["duplicate_of"] = rows[row.original_index].values["id"]  # type: ignore[index]
            for row, row_id in zip(
                dups, insert_rows(session, [r.values for r in dups]), strict=True
            ):
                row.values["id"] = row_id
        self._to_mark = self._to_mark[len(marks) :]
        return rows

    def flush(self) -> None:
        """Commit the placed marks still pending (at shutdown)."""
        if self._to_mark:
            with self._database.sessions.begin() as session:
                mark_placed(session, self._to_mark)
            self._to_mark = []

    # --- building rows ------------------------------------------------------------

    def _rows(
        self,
        examined: list[Examined],
        probabilities: np.ndarray,
        predict_ms: float,
        loaded: LoadedModel,
        originals: dict[str, Original],
    ) -> list[_Row]:
        rows: list[_Row] = []
        first_in_batch: dict[str, int] = {}
        class_names = loaded.model.class_names
        k = 0
        # Python floats once per batch: iterating numpy scalars per value cost more.
        probability_lists = probabilities.astype(np.float64).tolist()
        created_at = utcnow()  # one batch, one moment: a clock call per row showed in profiles
        for e in examined:
            values = self._base_values(e, predict_ms if e.pixels is not None else 0.0, created_at)
            row = _Row(e, values)
            if e.pixels is None:
                values.update(status="failed", error=e.error, failed_plugin=e.failed_plugin)
            else:
                probs = probabilities[k]
                k += 1
                original = originals.get(e.sha256)
                if original is not None:
                    values.update(
                        status="duplicate",
                        label=original.label,
                        confidence=original.confidence,
                        model_version=original.model_version,
                        duplicate_of=original.id,
                    )
                    folder_status = original.status
                elif e.sha256 in first_in_batch:
                    first = rows[first_in_batch[e.sha256]].values
                    row.original_index = first_in_batch[e.sha256]
                    values.update(
                        status="duplicate",
                        label=first["label"],
                        confidence=first["confidence"],
                        model_version=first["model_version"],
                    )
                    folder_status = first["status"]
                else:
                    best = int(probs.argmax())
                    confidence = float(probs[best])
                    status = "review" if confidence < self._low_confidence else "labeled"
                    values.update(
                        status=status,
                        label=class_names[best],
                        confidence=confidence,
                        probabilities=[round(p, 6) for p in probability_lists[k - 1]],
                        model_version=loaded.version,
                    )
                    folder_status = status
                    first_in_batch[e.sha256] = len(rows)
                row.target = self._filing.target(
                    source=e.path, status=folder_status, label=values["label"]
                )
            if values["status"] == "failed":
                row.target = self._filing.target(source=e.path, status="failed", label=None)
            assert row.target is not None
            values["path"] = str(row.target)
            values["placed"] = row.target == e.path
            rows.append(row)
        return rows

    def _base_values(self, e: Examined, predict_ms: float, created_at: datetime) -> dict[str, Any]:
        inbox_path = str(e.path)
        return {
            "filename": self._inbox.relative_name(e.path, as_str=inbox_path),
            "inbox_path": inbox_path,
            "sha256": e.sha256,
            "label": None,
            "confidence": None,
            "probabilities": None,
            "model_version": None,
            "error": None,
            "failed_plugin": None,
            "duplicate_of": None,
            "created_at": created_at,
            "processing_ms": round(e.seconds * 1000 + predict_ms, 3),
        }

    # --- moving files -------------------------------------------------------------

    def _place_all(self, rows: list[_Row], report: BatchReport) -> None:
        for row in rows:
            values = row.values
            source, target = row.examined.path, row.target
            assert target is not None
            failed = values["status"] == "failed"
            report.counts[values["status"]] += 1
            if failed:
                report.errors.append(f"{values['filename']!r}: {values['error']}")
            try:
                self._place_one(row, source, target, failed=failed)
            except (OSError, SQLAlchemyError) as exc:
                target = row.target
                log.error(
                    "recorded %s (row %s) but cannot move it to %s: %s",
                    source,
                    values["id"],
                    target,
                    exc,
                )
                report.errors.append(f"{values['filename']!r}: cannot move: {exc}")
                report.stuck.append(source)
                continue
            if not values["placed"]:
                self._to_mark.append(values["id"])
            report.finished.append(source)

    def _place_one(self, row: _Row, source: Path, target: Path, *, failed: bool) -> None:
        values = row.values
        for attempt in range(2):
            if failed:
                write_error_note(
                    target,
                    filename=values["filename"],
                    error=values["error"],
                    plugin=values["failed_plugin"],
                )
            try:
                place(source, target, mode=self.mode, is_failed=failed)
                return
            except FileExistsError:
                if attempt or target == source:
                    raise
            # Someone put a file at the name chosen before the commit: record another
            # name first (the row must say where the file will be), then move there.
            taken = target
            target = self._filing.next_free(source=source, taken=taken, is_failed=failed)
            try:
                with self._database.sessions.begin() as session:
                    set_path(session, values["id"], str(target))
            finally:
                self._filing.release()
            log.warning("%s appeared before the move; filing %s as %s", taken, source, target)
            if failed:
                error_note_path(taken).unlink(missing_ok=True)
            row.target = target
            values["path"] = str(target)


def _predict(examined: list[Examined], loaded: LoadedModel) -> tuple[np.ndarray, float]:
    """One call for the whole batch; returns the probabilities and each file's share in ms."""
    inputs = [e.pixels for e in examined if e.pixels is not None]
    if not inputs:
        return np.empty((0, len(loaded.model.class_names)), dtype=np.float32), 0.0
    started = time.perf_counter()
    probabilities = loaded.model.predict_proba(np.stack(inputs))
    return probabilities, (time.perf_counter() - started) * 1000 / len(inputs)
