"""`fashiond retrain`: train a candidate now, and deploy it only if it is better."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from daemon.commands.options import add_config_option, add_db_option, config_from, database_url
from daemon.config import Config, pointer_path
from daemon.exit_status import ExitStatus
from daemon.retrain_process import RunSpec, default_limit, supervise, work
from daemon.retraining import RunStoppedError

TRIGGERS = ("manual", "schedule", "catch-up")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="the deployed model's path (the 'current' pointer); overrides 'model:'",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    # For tests and trials: train and evaluate on N images of each split (also
    # FASHIOND_RETRAIN_LIMIT). Hidden: a model trained so is not worth deploying.
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--trigger", choices=TRIGGERS, default="manual", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    spec = RunSpec(
        config_file=config.source,
        db_url=database_url(args, config),
        model=config.model,
        trigger=args.trigger,
        limit=args.limit if args.limit is not None else default_limit(),
        quiet=args.quiet,
    )
    try:
        if args.worker:
            work(spec, config, observer_quiet=args.quiet)
            return 0
        return supervise(spec, config, out=sys.stdout)
    except RunStoppedError as stopped:
        print(f"error: {stopped}", file=sys.stderr)
        return ExitStatus.INTERRUPTED


def _config(args: argparse.Namespace) -> Config:
    config = config_from(args)
    if args.model is not None:
        config = dataclasses.replace(config, model=pointer_path(args.model, base=Path.cwd()))
    return config
