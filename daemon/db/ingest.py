"""The daemon's writes: one batch of rows, the placed marks, and what a restart must finish.

Plain functions over a session the caller owns (`with db.sessions.begin()`),
so one batch is one transaction. Rows go in with Core bulk inserts, because
the ORM's per-object bookkeeping would cost more than the prediction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from daemon.db.schema import Prediction

TAKEN_STATUSES = ("labeled", "review")  # what a later identical file is a duplicate of
_CHUNK = 500  # stays under SQLite's limit on bound parameters


@dataclass(frozen=True)
class Original:
    id: int
    label: str | None
    confidence: float | None
    model_version: str | None
    status: str


_TABLE = Prediction.__table__
_INSERT = insert(_TABLE).returning(_TABLE.c.id, _TABLE.c.inbox_path)
# Built once: SQLAlchemy then reuses the compiled statement for every batch.
_ORIGINALS = (
    select(
        Prediction.sha256,
        Prediction.id,
        Prediction.label,
        Prediction.confidence,
        Prediction.model_version,
        Prediction.status,
    )
    .where(Prediction.sha256.in_(bindparam("hashes", expanding=True)))
    .where(Prediction.status.in_(TAKEN_STATUSES))
    .order_by(Prediction.id)
)
_MARK_PLACED = (
    update(Prediction)
    .where(Prediction.id.in_(bindparam("ids", expanding=True)))
    .values(placed=True)
    .execution_options(synchronize_session=False)
)


def find_originals(session: Session, sha256s: Collection[str]) -> dict[str, Original]:
    """The first labeled or review row for each content hash that has one."""
    found: dict[str, Original] = {}
    hashes = sorted(h for h in sha256s if h)
    for start in range(0, len(hashes), _CHUNK):
        rows = session.execute(_ORIGINALS, {"hashes": hashes[start : start + _CHUNK]})
        for sha, *rest in rows:
            found.setdefault(sha, Original(*rest))
    return found


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert and return the new ids, in the order of `rows`, whose inbox paths are distinct.

    RETURNING the inbox path maps ids back to rows, so the insert can go as one
    multi-row statement; asking SQLAlchemy to keep parameter order instead
    makes it insert one row per statement on SQLite.
    """
    if not rows:
        return []
    # Core, on the session's connection: the ORM's bulk path costs more per row than SQLite.
    result = session.connection().execute(_INSERT, list(rows))
    ids = {path: row_id for row_id, path in result}
    return [ids[row["inbox_path"]] for row in rows]


def mark_placed(session: Session, ids: Iterable[int]) -> None:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        session.execute(_MARK_PLACED, {"ids": ids[start : start + _CHUNK]})


def set_path(session: Session, row_id: int, path: str) -> None:
    session.execute(
        update(Prediction)
        .where(Prediction.id == row_id)
        .values(path=path)
        .execution_options(synchronize_session=False)
    )


def unplaced(session: Session) -> list[Prediction]:
    """Rows committed whose file a crash kept from reaching its place."""
    return list(session.scalars(select(Prediction).where(Prediction.placed.is_(False))))


def recorded_inbox_files(session: Session, inbox_paths: Collection[str]) -> set[tuple[str, str]]:
    """(inbox path, sha256) pairs already recorded, for `copy` and `leave` restarts."""
    found: set[tuple[str, str]] = set()
    paths = sorted(inbox_paths)
    for start in range(0, len(paths), _CHUNK):
        rows = session.execute(
            select(Prediction.inbox_path, Prediction.sha256).where(
                Prediction.inbox_path.in_(paths[start : start + _CHUNK])
            )
        )
        found.update((p, s) for p, s in rows if p is not None)
    return found


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Prediction.status, func.count()).group_by(Prediction.status))
    return {status: n for status, n in rows}
