"""`fashiond history`: the newest predictions, filtered, as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.commands.options import add_config_option, add_db_option, opened_database
from daemon.db.schema import PredictionRevision
from daemon.history_filters import HistoryQuery, add_filter_arguments, query_from_args
from daemon.prediction_records import (
    FIELDS,
    HISTORY_COLUMNS,
    REVISION_FIELDS,
    Column,
    Record,
    prediction_columns,
    record_from_row,
    render_table,
    revision_record,
    table_record,
    write_csv,
    write_json_array,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)
    add_filter_arguments(parser)
    parser.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="default: table"
    )
    parser.add_argument(
        "--all-versions",
        action="store_true",
        help="also show the predictions of earlier models that reprocess superseded",
    )


def run(args: argparse.Namespace) -> int:
    query = query_from_args(args)
    with opened_database(args) as (_config, db), db.sessions.begin() as session:
        records = list(history_records(session, query, all_versions=args.all_versions))
    write_records(records, fmt=args.format, all_versions=args.all_versions)
    return 0


def history_records(
    session: Session, query: HistoryQuery, *, all_versions: bool = False
) -> Iterator[Record]:
    """Matching items, newest prediction first; with `all_versions`, each item's
    superseded predictions follow it, newest first."""
    items = [record_from_row(row) for row in session.execute(query.apply(prediction_columns()))]
    revisions = revisions_by_item(session, [r["id"] for r in items]) if all_versions else {}
    for item in items:
        yield {**item, "superseded_at": None} if all_versions else item
        for revision in revisions.get(item["id"], ()):
            yield revision_record(item, revision)


def revisions_by_item(session: Session, ids: Sequence[int]) -> dict[int, list[PredictionRevision]]:
    found: dict[int, list[PredictionRevision]] = defaultdict(list)
    for start in range(0, len(ids), 500):  # SQLite caps the number of bound parameters
        stmt = (
            select(PredictionRevision)
            .where(PredictionRevision.prediction_id.in_(ids[start : start + 500]))
            .order_by(PredictionRevision.superseded_at.desc(), PredictionRevision.id.desc())
        )
        for revision in session.scalars(stmt):
            found[revision.prediction_id].append(revision)
    return found


def write_records(records: list[Record], *, fmt: str, all_versions: bool) -> None:
    out = sys.stdout
    if fmt == "json":
        write_json_array(records, out)
    elif fmt == "csv":
        write_csv(records, out, fields=FIELDS + (REVISION_FIELDS if all_versions else ()))
    else:
        columns = HISTORY_COLUMNS
        if all_versions:
            columns = (*columns, Column("superseded", "superseded_at", 19, time=True))
        for line in render_table([table_record(r) for r in records], columns):
            print(line)
        if not records:
            print("no predictions match", file=sys.stderr)
