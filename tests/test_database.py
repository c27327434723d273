"""Opening the database: the SQLite settings readers and the daemon rely on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from daemon.db.database import BUSY_TIMEOUT_MS, open_database


def test_sqlite_databases_wait_for_a_busy_writer_and_use_wal(tmp_path: Path) -> None:
    """Readers never block ingest (WAL) and brief contention waits instead of failing."""
    database = open_database(f"sqlite:///{tmp_path / 'x.db'}", create=True)
    with database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == BUSY_TIMEOUT_MS
    database.dispose()
