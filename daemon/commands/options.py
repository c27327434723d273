"""Options several commands share, spelled and resolved the same way everywhere."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from daemon.config import Config, load_config
from daemon.db.database import Database, open_database


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="config file (default: ./config.yaml when present, else built-in defaults)",
    )


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="database URL; overrides 'database:' in the config",
    )


def config_from(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def database_url(args: argparse.Namespace, config: Config) -> str:
    return args.db if getattr(args, "db", None) else config.database


@contextmanager
def opened_database(args: argparse.Namespace) -> Iterator[tuple[Config, Database]]:
    """The config and its database (--db wins), disposed of when the command is done."""
    config = config_from(args)
    db = open_database(database_url(args, config))
    try:
        yield config, db
    finally:
        db.dispose()
