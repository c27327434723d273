"""Opening the database: the SQLite settings readers and the daemon rely on, and migrations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select, text, update

from daemon.db.database import BUSY_TIMEOUT_MS, Database, open_database
from daemon.db.ingest import _ORIGINALS
from daemon.db.schema import SCHEMA_VERSION, Prediction, SchemaInfo


def test_sqlite_databases_wait_for_a_busy_writer_and_use_wal(tmp_path: Path) -> None:
    """Readers never block ingest (WAL) and brief contention waits instead of failing."""
    database = open_database(f"sqlite:///{tmp_path / 'x.db'}", create=True)
    with database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == BUSY_TIMEOUT_MS
    database.dispose()


def _index_names(database: Database) -> set[str]:
    with database.engine.connect() as conn:
        return {i["name"] for i in inspect(conn).get_indexes("predictions")}


def test_the_duplicate_lookup_searches_by_hash_not_by_status(tmp_path: Path) -> None:
    """SQLite once chose the status index here and read every labeled row per batch."""
    database = open_database(f"sqlite:///{tmp_path / 'x.db'}", create=True)
    query = _ORIGINALS.params(hashes=["a" * 64, "b" * 64]).compile(
        dialect=database.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with database.engine.connect() as conn:
        plan = " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
    assert "ix_predictions_sha256_status (sha256=? AND status=?)" in plan
    database.dispose()


def test_a_version_1_database_migrates_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    database = open_database(url, create=True)
    with database.sessions.begin() as session:
        session.add(
            Prediction(filename="a.png", path="/x/a.png", sha256="a" * 64, status="labeled")
        )
    with database.engine.begin() as conn:  # put it back the way version 1 made it
        conn.execute(text("DROP INDEX ix_predictions_sha256_status"))
        conn.execute(text("CREATE INDEX ix_predictions_sha256 ON predictions (sha256)"))
        conn.execute(update(SchemaInfo).values(version=1))
    database.dispose()

    database = open_database(url)
    names = _index_names(database)
    assert "ix_predictions_sha256_status" in names and "ix_predictions_sha256" not in names
    with database.sessions() as session:
        assert session.scalar(select(SchemaInfo.version)) == SCHEMA_VERSION == 2
        assert session.scalars(select(Prediction.filename)).all() == ["a.png"]
    database.dispose()
