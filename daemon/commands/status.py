"""`fashiond status`: is the daemon running, and how is it doing?

Live numbers (pid, queue depth, throughput, this run's counts) come from the
heartbeat the daemon rewrites every second; totals and the last failure come
from the database, so they are right even when the daemon is stopped. Exit 0
when the daemon is running, 7 when it is not, so scripts can test it.

Only the database line says how many items are "to review": the run's count
is of files the daemon sent there, which a `fashiond correct` in another
process does not undo, so it is worded as what happened, not what waits.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from daemon.commands.options import add_config_option, add_db_option, config_from, database_url
from daemon.db.database import open_database, sqlite_file
from daemon.db.ingest import count_by_status
from daemon.db.schema import ModelVersion, Prediction, utcnow
from daemon.exit_status import ExitStatus
from daemon.heartbeat import heartbeat_path, read_heartbeat


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    url = database_url(args, config)
    base = config.source.parent if config.source is not None else None
    beat_file = heartbeat_path(url, fallback_dir=base or Path.cwd())
    db_file = sqlite_file(url)
    if db_file is not None and not db_file.exists():
        print(f"daemon:      not running (no database at {url} yet; 'fashiond run' creates it)")
        return ExitStatus.DAEMON
    beat = read_heartbeat(beat_file)
    running = beat is not None and beat.is_running()
    database = open_database(url)
    try:
        with database.sessions.begin() as session:
            counts = count_by_status(session)
            last_minute = session.scalar(
                select(func.count())
                .select_from(Prediction)
                .where(Prediction.created_at >= utcnow() - timedelta(seconds=60))
            )
            last_failed = session.execute(
                select(Prediction.filename, Prediction.error, Prediction.created_at)
                .where(Prediction.status == "failed")
                .order_by(Prediction.id.desc())
                .limit(1)
            ).first()
            active = session.scalar(
                select(ModelVersion.version)
                .where(ModelVersion.status == "active")
                .order_by(ModelVersion.id.desc())
                .limit(1)
            )
    finally:
        database.dispose()

    lines = []
    if running and beat is not None:
        lines.append(f"daemon:      running (pid {beat.pid}, since {beat.started_at})")
        lines.append(f"inbox:       {beat.inbox}")
        lines.append(f"model:       {beat.model_version}")
        lines.append(f"queue:       {beat.queue_depth} file(s) waiting")
        lines.append(
            f"this run:    {beat.processed} recorded, {beat.failed} failed, "
            f"{beat.review} sent to review"
        )
        lines.append(f"throughput:  {beat.throughput_1m:.1f} files/s over the last minute")
    else:
        seen = f" (last heartbeat {beat.updated_at}, pid {beat.pid})" if beat else ""
        lines.append(f"daemon:      not running{seen}")
        lines.append(f"model:       {active or 'none recorded yet'}")
        lines.append(f"throughput:  {(last_minute or 0) / 60:.1f} files/s over the last minute")
    total = sum(counts.values())
    lines.append(
        f"database:    {total} file(s): {counts.get('labeled', 0)} labeled, "
        f"{counts.get('review', 0)} to review, {counts.get('failed', 0)} failed, "
        f"{counts.get('duplicate', 0)} duplicate(s)  [{url}]"
    )
    last_error = beat.last_error if running and beat is not None and beat.last_error else None
    if last_error is None and last_failed is not None:
        when = f"{last_failed.created_at:%Y-%m-%d %H:%M:%S} UTC"
        last_error = f"{last_failed.filename}: {last_failed.error} (at {when})"
    lines.append(f"last error:  {' '.join((last_error or 'none').split())}")
    print("\n".join(lines))
    return ExitStatus.SUCCESS if running else ExitStatus.DAEMON
