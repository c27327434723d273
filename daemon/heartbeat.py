"""The heartbeat file `fashiond status` reads, and the lock that keeps one daemon per database.

`<db stem>.heartbeat` beside the SQLite file (fashiond.db -> fashiond.heartbeat)
is rewritten atomically about once a second with what only the running process
knows: its pid, queue depth, this run's counts, throughput and last error. A
heartbeat older than `STALE_AFTER` seconds, or naming a dead pid, means the
daemon is not running (it was killed, or the machine rebooted).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.db.database import sqlite_file
from daemon.errors import DaemonStateError

STALE_AFTER = 10.0


@dataclass(frozen=True)
class Heartbeat:
    pid: int
    started_at: str  # ISO 8601, UTC
    updated_at: str
    model_version: str
    queue_depth: int
    processed: int  # this run: labeled + review + duplicate + failed
    failed: int
    review: int  # this run: sent to review, whether or not a user has corrected them since
    last_error: str | None
    throughput_1m: float  # files recorded per second over the last minute
    inbox: str = ""
    stopped_at: str | None = None

    def is_running(self, *, now: datetime | None = None) -> bool:
        if self.stopped_at is not None or not _pid_alive(self.pid):
            return False
        now = now or datetime.now(UTC)
        age = (now - datetime.fromisoformat(self.updated_at)).total_seconds()
        return age <= STALE_AFTER


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def heartbeat_path(database_url: str, *, fallback_dir: Path) -> Path:
    """Beside a SQLite file; for other databases, in `fallback_dir` as fashiond.heartbeat."""
    db = sqlite_file(database_url)
    if db is not None:
        return db.with_name(db.stem + ".heartbeat")
    return fallback_dir / "fashiond.heartbeat"


def write_heartbeat(path: Path, beat: Heartbeat) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(beat), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_heartbeat(path: Path) -> Heartbeat | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return Heartbeat(**data)
    except (OSError, ValueError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def exclusive_run(heartbeat: Path) -> Iterator[None]:
    """Hold `<stem>.lock` beside the heartbeat for the daemon's lifetime.

    flock is released by the kernel when the process dies, kill -9 included,
    so a stale lock never blocks a restart.
    """
    lock_path = heartbeat.with_suffix(".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = read_heartbeat(heartbeat)
            pid = f" (pid {other.pid})" if other else ""
            raise DaemonStateError(
                f"another fashiond is already running on this database{pid}",
                hint="stop it first, or use another --db",
            ) from None
        yield
    finally:
        os.close(fd)
