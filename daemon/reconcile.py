"""At startup, finish what a crash interrupted, so every file has one row and one place.

A row with `placed = False` was committed but its file may not have moved.
Looking at the inbox path and the target decides what is left to do:

- only the inbox file exists (and still has the recorded content): move it;
- both names are one file (a crash between the move's link and unlink): drop
  the inbox name;
- both exist (a cross-filesystem move was interrupted): drop the inbox copy
  when the target has the same content;
- only the target exists: the move happened, only the mark is missing.

In `copy` and `leave` modes processed files stay in the inbox on purpose;
`already_recorded` tells the startup scan which of them to skip.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from daemon.db.database import Database
from daemon.db.ingest import mark_placed, recorded_inbox_files, set_path, unplaced
from daemon.db.schema import Prediction
from daemon.examine import read_regular_file
from daemon.filing import Filing, place, write_error_note

log = logging.getLogger(__name__)


def finish_interrupted(database: Database, filing: Filing) -> int:
    """Complete every unplaced row's move; returns how many rows it settled."""
    with database.sessions.begin() as session:
        rows = unplaced(session)
        for row in rows:
            _settle(session, row, filing)
        mark_placed(session, [r.id for r in rows])
    filing.release()
    if rows:
        log.info("finished %d move(s) interrupted by the last shutdown", len(rows))
    return len(rows)


def _settle(session: Session, row: Prediction, filing: Filing) -> None:
    source = Path(row.inbox_path or "")
    target = Path(row.path)
    failed = row.status == "failed"
    if not row.inbox_path or source == target or not os.path.lexists(source):
        if not os.path.lexists(target):
            log.warning("row %d: %s is in neither %s nor the inbox", row.id, row.filename, target)
        return
    if _same_file(source, target):
        source.unlink()  # a crash between the link and the unlink of the move
        return
    if not failed and _content_hash(source) != row.sha256:
        log.warning(
            "row %d: %s was replaced since it was recorded; taking it in anew", row.id, source
        )
        return
    if os.path.lexists(target):
        if not failed and filing.mode != "copy" and _content_hash(target) == row.sha256:
            source.unlink()  # the copy half of a cross-filesystem move already happened
            return
        if filing.mode == "copy" and not failed and _content_hash(target) == row.sha256:
            return
        target = filing.target(source=source, status=_folder_status(row, filing), label=row.label)
        set_path(session, row.id, str(target))
    if failed:
        write_error_note(
            target, filename=row.filename, error=row.error or "", plugin=row.failed_plugin
        )
    place(source, target, mode=filing.mode, is_failed=failed)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except OSError:
        return False


def _folder_status(row: Prediction, filing: Filing) -> str:
    if row.status == "duplicate":
        return "review" if Path(row.path).is_relative_to(filing.review_dir) else "labeled"
    return row.status


def _content_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(read_regular_file(path)).hexdigest()
    except Exception:
        return None


def already_recorded(database: Database, paths: Iterable[Path]) -> set[Path]:
    """Inbox files whose exact content was already recorded from that same path."""
    paths = list(paths)
    if not paths:
        return set()
    with database.sessions.begin() as session:
        known = recorded_inbox_files(session, [str(p) for p in paths])
    if not known:
        return set()
    known_paths = {p for p, _ in known}
    return {p for p in paths if str(p) in known_paths and (str(p), _content_hash(p)) in known}
