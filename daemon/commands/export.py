"""`fashiond export`: the filtered history to a CSV, JSON or JSON Lines file.

Rows stream from one read transaction (WAL: the daemon keeps writing) through
the writer into a temporary file beside FILE, which replaces FILE only when
every row is written; an interrupted export leaves FILE as it was.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon.commands.options import add_config_option, add_db_option, opened_database
from daemon.db.schema import Prediction
from daemon.errors import UsageError
from daemon.history_filters import HistoryQuery, add_filter_arguments, query_from_args
from daemon.prediction_records import (
    Record,
    prediction_columns,
    record_from_row,
    write_csv,
    write_json_array,
    write_jsonl,
)

WRITERS = {"csv": write_csv, "json": write_json_array, "jsonl": write_jsonl}
STREAM_BATCH = 2000  # rows fetched per round trip; memory is this, not the history's size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)
    add_filter_arguments(parser, limit=None)
    parser.add_argument("--format", choices=tuple(WRITERS), help="default: FILE's extension")
    parser.add_argument("file", metavar="FILE", help="where to write; - for standard output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from daemon.progress import item_progress  # tqdm: only when exporting

    query = query_from_args(args)
    fmt = args.format or _format_from_name(args.file)
    with opened_database(args) as (_config, db), db.sessions.begin() as session:
        if args.file == "-":
            count = WRITERS[fmt](stream_records(session, query), sys.stdout)
        else:
            with item_progress(
                _bar_total(session, query, quiet=args.quiet), unit="row", quiet=args.quiet
            ) as advance:
                records = stream_records(session, query, advance=advance)
                count = write_atomically(Path(args.file), lambda out: WRITERS[fmt](records, out))
    if args.file != "-":
        print(f"exported {count:,} predictions to {args.file}", file=sys.stderr)
    return 0


def stream_records(
    session: Session, query: HistoryQuery, *, advance: Callable[[int], object] = lambda n: None
) -> Iterator[Record]:
    stmt = query.apply(prediction_columns()).execution_options(yield_per=STREAM_BATCH)
    for partition in session.execute(stmt).partitions():
        for row in partition:
            yield record_from_row(row)
        advance(len(partition))


def _bar_total(session: Session, query: HistoryQuery, *, quiet: bool) -> int:
    """How many rows the bar counts to; only worth a query when a bar is drawn."""
    if quiet or not sys.stderr.isatty():
        return 0
    count = session.scalar(query.filter.apply(select(func.count()).select_from(Prediction))) or 0
    return min(count, query.limit) if query.limit is not None else count


def write_atomically(path: Path, write: Callable[[TextIO], int]) -> int:
    """Run `write(out)` on a temporary file in path's folder, then rename it over path."""
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise UsageError(f"cannot export to {path}: folder {folder} does not exist")
    if path.is_dir():
        raise UsageError(f"cannot export to {path}: it is a folder", hint="name a file in it")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot export to {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            count = write(out)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        Path(temp).chmod(0o666 & ~umask)  # mkstemp's 0600 is for secrets, not exports
        Path(temp).replace(path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise UsageError(f"cannot export to {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return count


def _format_from_name(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix in WRITERS:
        return suffix
    raise UsageError(
        f"cannot tell the export format from {name!r}",
        hint="add --format csv, json or jsonl, or name the file .csv, .json or .jsonl",
    )
