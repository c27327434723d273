"""`fashiond corrections`: the labels users gave, newest first."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from daemon.commands.options import add_config_option, add_db_option, opened_database
from daemon.db.schema import Correction, Prediction, utcnow
from daemon.history_filters import DEFAULT_LIMIT, parse_limit, resolve_label, time_arg
from daemon.prediction_records import (
    Column,
    Record,
    format_time,
    render_table,
    write_csv,
    write_json_array,
)

FIELDS = (
    "id",
    "prediction_id",
    "filename",
    "previous_label",
    "label",
    "model_label",
    "model_version",
    "pixels",
    "path",
    "created_at",
)
COLUMNS = (
    Column("id", "id", 8, right=True),
    Column("created (UTC)", "created_at", 19, time=True),
    Column("item", "prediction_id", 10, right=True),
    Column("file", "filename", 200, flexible=True),
    Column("was", "previous_label", 11),
    Column("now", "label", 11),
    Column("pixels", "pixels", 7, drop=1),
    Column("model", "model_version", 8, drop=2),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)
    parser.add_argument("--label", metavar="L", help="only corrections to this label")
    parser.add_argument("--since", metavar="T", help="made from T on (ISO UTC, or 30m, 2h, 7d)")
    parser.add_argument("--until", metavar="T", help="made before T")
    parser.add_argument(
        "--limit", metavar="N", default=DEFAULT_LIMIT, help=f"default {DEFAULT_LIMIT}, 0 for all"
    )
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")


def run(args: argparse.Namespace) -> int:
    stmt = corrections_query(args)
    with opened_database(args) as (_config, db), db.sessions.begin() as session:
        records = correction_records(session, stmt)
    if args.format == "json":
        write_json_array(records, sys.stdout)
    elif args.format == "csv":
        write_csv(records, sys.stdout, fields=FIELDS)
    else:
        for line in render_table(records, COLUMNS):
            print(line)
        if not records:
            print("no corrections match", file=sys.stderr)
    return 0


def corrections_query(args: argparse.Namespace) -> Select[Any]:
    now = utcnow()
    stmt = select(Correction, Prediction).join(Prediction)
    if args.label is not None:
        stmt = stmt.where(Correction.label == resolve_label(args.label))
    since = time_arg(args.since, "--since", now=now, end_of_day=False)
    until = time_arg(args.until, "--until", now=now, end_of_day=True)
    if since is not None:
        stmt = stmt.where(Correction.created_at >= since)
    if until is not None:
        stmt = stmt.where(Correction.created_at < until)
    stmt = stmt.order_by(Correction.created_at.desc(), Correction.id.desc())
    limit = parse_limit(args.limit)
    return stmt.limit(limit) if limit is not None else stmt


def correction_records(session: Session, stmt: Select[Any]) -> list[Record]:
    return [
        {
            "id": correction.id,
            "prediction_id": prediction.id,
            "filename": prediction.filename,
            "previous_label": correction.previous_label,
            "label": correction.label,
            "model_label": prediction.label,
            "model_version": prediction.model_version,
            "pixels": f"{correction.height}x{correction.width}"
            if correction.pixels is not None
            else None,
            "path": prediction.path,
            "created_at": format_time(correction.created_at),
        }
        for correction, prediction in session.execute(stmt)
    ]
