"""`fashiond reprocess`: re-label past items with the deployed model."""

from __future__ import annotations

import argparse
import sys

from daemon.commands.options import add_config_option, add_db_option, opened_database
from daemon.errors import UsageError
from daemon.history_filters import add_filter_arguments, query_from_args

SHOWN_PROBLEMS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)
    add_filter_arguments(parser, limit=None)
    parser.add_argument(
        "--force",
        action="store_true",
        help="also items the deployed model version already predicted",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="images per prediction call (default: batch.max_size)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from daemon.progress import item_progress
    from daemon.reprocessing import load_deployed, reprocess, select_for_reprocess

    query = query_from_args(args)
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size} must be at least 1")
    with opened_database(args) as (config, db):
        deployed = load_deployed(config, db)
        ids = select_for_reprocess(db, query=query, version=deployed.version, force=args.force)
        with item_progress(len(ids), unit="image", quiet=args.quiet) as advance:
            report = reprocess(
                db,
                ids,
                deployed=deployed,
                low_confidence=config.low_confidence,
                batch_size=args.batch_size or config.batch.max_size,
                progress=advance,
            )
    print(
        f"reprocessed {report.relabeled:,} of {report.selected:,} items with {deployed.version} "
        f"({report.changed:,} changed label); {len(report.missing):,} files missing, "
        f"{len(report.failed):,} could not be preprocessed"
    )
    for problem in (report.missing + report.failed)[:SHOWN_PROBLEMS]:
        print(f"  skipped {problem}", file=sys.stderr)
    return 0
