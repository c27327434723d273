"""Opening the database: engine settings, the schema version, and migrations.

SQLite runs in WAL mode with a busy timeout, so that readers (history queries,
a user's sqlite3 shell) never block the daemon's writes, and brief write
contention waits instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index, create_engine, event, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import DropIndex

from daemon.db.schema import SCHEMA_VERSION, Base, Prediction, SchemaInfo
from daemon.errors import DatabaseError

BUSY_TIMEOUT_MS = 10_000


def _index_sha256_with_status(conn: Connection) -> None:
    """1 -> 2: the duplicate lookup's index covers the status too (see Prediction)."""
    table = Prediction.__table__
    conn.execute(DropIndex(Index("ix_predictions_sha256", table.c.sha256), if_exists=True))
    next(i for i in table.indexes if i.name == "ix_predictions_sha256_status").create(conn)


# MIGRATIONS[n] upgrades a database at version n to n + 1, in one transaction.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _index_sha256_with_status}


@dataclass(frozen=True)
class Database:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, create: bool = False) -> Database:
    """Open `url`, migrating it to this version's schema.

    With `create`, a missing SQLite file and a fresh schema are made; without,
    a missing file is an error, so a typo in --db does not silently make a new,
    empty database.
    """
    engine = _engine(url, create=create)
    try:
        _ensure_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(f"cannot open database {url}: {_first_line(exc)}") from None
    except DatabaseError:
        engine.dispose()
        raise
    return Database(url=url, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def parse_url(url: str) -> URL:
    """The URL, or a user error: a bare path such as `/tmp/x.db` is the common slip."""
    try:
        return make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"{url!r} is not a database URL", hint="use e.g. sqlite:///fashiond.db"
        ) from None


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def _engine(url: str, *, create: bool) -> Engine:
    parsed = parse_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not create and not path.exists():
            raise DatabaseError(
                f"database {url} does not exist",
                hint="check --db or 'database:' in config.yaml; 'fashiond run' creates it",
            )
        if create and not path.parent.is_dir():
            raise DatabaseError(f"cannot create database {url}: folder {path.parent} is missing")
    kwargs: dict[str, Any] = {}
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"cannot open database {url}: {_first_line(exc)}") from None
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The busy timeout is sqlite3's own `timeout` connect argument (see _engine).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _ensure_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        if not inspect(conn).has_table(SchemaInfo.__tablename__):
            if inspect(conn).has_table("predictions"):
                raise DatabaseError(
                    f"database {engine.url} has a predictions table but no schema version",
                    hint="point --db at a fashiond database",
                )
            Base.metadata.create_all(conn)
            conn.execute(SchemaInfo.__table__.insert().values(id=1, version=SCHEMA_VERSION))
            return
        version = conn.execute(select(SchemaInfo.version)).scalar_one()
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"database {engine.url} has schema version {version}, newer than this "
            f"fashiond's {SCHEMA_VERSION}",
            hint="upgrade fashiond",
        )
    while version < SCHEMA_VERSION:
        with engine.begin() as conn:
            MIGRATIONS[version](conn)
            version += 1
            conn.execute(SchemaInfo.__table__.update().values(version=version))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
