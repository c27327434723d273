"""The daemon's writes: one batch of rows, the placed marks, and what a restart must finish.

Plain functions over a session the caller owns (`with db.sessions.begin()`),
so one batch is one transaction. Rows go in with Core bulk inserts, because
the ORM's per-object bookkeeping would cost more than the prediction.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Dialect
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
# Core statements on the table, run on the session's connection: the ORM's
# execute path cost as much as SQLite's work for these two (py-spy, bulk ingest).
_ORIGINALS = (
    select(
        _TABLE.c.sha256,
        _TABLE.c.id,
        _TABLE.c.label,
        _TABLE.c.confidence,
        _TABLE.c.model_version,
        _TABLE.c.status,
    )
    .where(_TABLE.c.sha256.in_(bindparam("hashes", expanding=True)))
    .where(_TABLE.c.status.in_(TAKEN_STATUSES))
    .order_by(_TABLE.c.id)
)
_MARK_PLACED = (
    update(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True))).values(placed=True)
)


def find_originals(session: Session, sha256s: Collection[str]) -> dict[str, Original]:
    """The first labeled or review row for each content hash that has one."""
    found: dict[str, Original] = {}
    hashes = sorted(h for h in sha256s if h)
    for start in range(0, len(hashes), _CHUNK):
        rows = session.connection().execute(_ORIGINALS, {"hashes": hashes[start : start + _CHUNK]})
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
    connection = session.connection()
    keys = tuple(c.name for c in _TABLE.c if c.name in rows[0] and c.name != "id")  # table order
    if not _fast_insert_fits(connection.dialect, keys, rows):
        # Core, on the session's connection: the ORM's bulk path costs more per row than SQLite.
        result = connection.execute(_INSERT, list(rows))
        ids = {path: row_id for row_id, path in result}
        return [ids[row["inbox_path"]] for row in rows]
    processors = _bind_processors(connection.dialect, keys)
    per_statement = max(1, _MAX_VARIABLES // len(keys))
    ids = {}
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        flat: list[Any] = []
        for row in chunk:
            for key, process in zip(keys, processors, strict=True):
                value = row[key]
                flat.append(value if process is None else process(value))
        sql = _multi_row_insert(connection.dialect, keys, len(chunk))
        ids.update({path: row_id for row_id, path in connection.exec_driver_sql(sql, tuple(flat))})
    return [ids[row["inbox_path"]] for row in rows]


# The per-row cost of Core's executemany (parameter dicts, bind processing in
# its generic loop) was a third of the daemon process's recording CPU
# (py-spy, bulk ingest), so on SQLite the batch goes as one statement that
# SQLAlchemy compiled (bound parameters, no SQL built from strings), with the
# values run through the same column bind processors Core would use.
_MAX_VARIABLES = 999  # SQLite's smallest limit on bound parameters per statement


def _fast_insert_fits(
    dialect: Dialect, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> bool:
    if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
        return False
    given = set(keys)
    if given != rows[0].keys() - {"id"}:
        return False  # a key that is not a column: let Core say so
    if any(c.name not in given and c.default is not None for c in _TABLE.c if not c.primary_key):
        return False  # a Python-side default Core would fill in
    return all(
        len(row) - ("id" in row) == len(keys) and given.issuperset(row.keys() - {"id"})
        for row in rows
    )


@functools.lru_cache(maxsize=32)
def _bind_processors(dialect: Dialect, keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(_TABLE.c[k].type.bind_processor(dialect) for k in keys)


@functools.lru_cache(maxsize=256)
def _multi_row_insert(dialect: Dialect, keys: tuple[str, ...], n: int) -> str:
    stmt = (
        insert(_TABLE)
        .values(
            [
                {k: bindparam(f"r{i}c{j}", type_=_TABLE.c[k].type) for j, k in enumerate(keys)}
                for i in range(n)
            ]
        )
        .returning(_TABLE.c.id, _TABLE.c.inbox_path)
    )
    compiled = stmt.compile(dialect=dialect)
    expected = [f"r{i}c{j}" for i in range(n) for j in range(len(keys))]
    if list(compiled.positiontup or ()) != expected:
        raise RuntimeError("unexpected parameter order in the compiled insert")
    return compiled.string


def mark_placed(session: Session, ids: Iterable[int]) -> None:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        session.connection().execute(_MARK_PLACED, {"ids": ids[start : start + _CHUNK]})


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
