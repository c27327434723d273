"""`fashiond run`: the daemon, in the foreground, logging to stderr.

Everything that can be wrong with the setup (the config, the database, the
model, the plugin chain, a daemon already running) is checked before the inbox
is watched, so a mistake ends with one error line and its exit code rather
than a daemon that half works.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import queue
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from daemon.batch import Recorder
from daemon.blas_threads import limit_blas_threads
from daemon.commands.options import add_config_option, add_db_option, config_from, database_url
from daemon.config import Config
from daemon.db.database import Database, open_database
from daemon.errors import ConfigError
from daemon.examiners import Examiners
from daemon.filing import Filing
from daemon.heartbeat import exclusive_run, heartbeat_path
from daemon.inbox import Inbox
from daemon.live_model import LiveModel
from daemon.reconcile import finish_interrupted
from daemon.service import BatchSettings, Service, WatchSettings
from daemon.tickers import build_tickers
from daemon.watcher import PathSeen, Watcher

log = logging.getLogger("fashiond")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--inbox", type=Path, metavar="DIR", help="folder to watch; overrides 'inbox:'"
    )
    add_db_option(parser)
    parser.add_argument(
        "--model", type=Path, metavar="FILE", help="parameters file; overrides 'model:'"
    )


def run(args: argparse.Namespace) -> int:
    config = _with_flags(config_from(args), args)
    _setup_logging(config.log_level)
    limit_blas_threads(1)
    with open_daemon(config) as daemon:
        _on_signals(daemon.service)
        log.info("%s", daemon.describe())
        daemon.service.run()
        c = daemon.service.counters
        log.info(
            "stopped after %d file(s): %d failed, %d sent to review",
            c.processed,
            c.failed,
            c.review,
        )
    return 0


@dataclass(frozen=True)
class Daemon:
    service: Service
    config: Config
    chain_names: tuple[str, ...]
    workers: int

    def describe(self) -> str:
        """The startup line: everything a user needs to know the daemon is set up as meant."""
        c = self.config
        return (
            f"fashiond {os.getpid()} watching {c.inbox} ({c.watch.observer} observer"
            f"{', recursive' if c.watch.recursive else ''}) | database {c.database} | "
            f"model {self.service.model_version} ({c.model}) | "
            f"chain {' -> '.join(self.chain_names)} | {self.workers} worker(s) | output {c.output}"
        )


@contextlib.contextmanager
def open_daemon(config: Config) -> Iterator[Daemon]:
    """Everything `run` needs, checked in order, before anything is watched.

    Yields a service ready to `run()`; closes the workers and the database after.
    """
    _prepare_inbox(config.inbox)
    database = open_database(config.database, create=True)
    examiners: Examiners | None = None
    try:
        beat_path = heartbeat_path(config.database, fallback_dir=_base_dir(config))
        with exclusive_run(beat_path):
            model = LiveModel(config.model, database)
            workers = config.workers or os.cpu_count() or 1
            examiners = Examiners(
                entries=[(e.name, e.options) for e in config.preprocess],
                plugins_dir=config.plugins_dir,
                workers=workers,
            )
            chain = examiners.chain(model.current.model_input)  # validates names and options
            examiners.warm(model.current.model_input)
            filing = Filing(
                labeled_dir=config.labeled_dir,
                review_dir=config.review_dir,
                failed_dir=config.failed_dir,
                mode=config.output,
            )
            finish_interrupted(database, filing)
            service = _service(config, database, model, examiners, filing, beat_path)
            yield Daemon(service=service, config=config, chain_names=chain.names, workers=workers)
    finally:
        if examiners is not None:
            examiners.close()
        database.dispose()


def _service(
    config: Config,
    database: Database,
    model: LiveModel,
    examiners: Examiners,
    filing: Filing,
    beat_path: Path,
) -> Service:
    inbox = Inbox.create(
        config.inbox,
        recursive=config.watch.recursive,
        extensions=config.watch.extensions,
        excluded=[config.labeled_dir, config.review_dir, config.failed_dir],
    )
    events: queue.SimpleQueue[PathSeen | None] = queue.SimpleQueue()
    watcher = Watcher(
        inbox.root,
        events,
        kind=config.watch.observer,
        recursive=config.watch.recursive,
        polling_interval=config.watch.polling_interval,
    )
    recorder = Recorder(
        database=database,
        inbox=inbox,
        filing=filing,
        low_confidence=config.low_confidence,
    )
    return Service(
        inbox=inbox,
        watcher=watcher,
        events=events,
        examiners=examiners,
        model=model,
        recorder=recorder,
        heartbeat_path=beat_path,
        batch=BatchSettings(config.batch.max_size, config.batch.max_delay_ms / 1000),
        watch=WatchSettings(config.watch.rescan_interval, config.watch.quiet_period_ms / 1000),
        tickers=build_tickers(config, database),
    )


def _with_flags(config: Config, args: argparse.Namespace) -> Config:
    """Flags override the config; their relative paths mean relative to the current folder."""
    changes: dict[str, object] = {}
    if args.inbox is not None:
        changes["inbox"] = args.inbox.expanduser().resolve()
    if args.model is not None:
        changes["model"] = args.model.expanduser().absolute()
    if args.db:
        changes["database"] = database_url(args, config)
    return dataclasses.replace(config, **changes) if changes else config


def _prepare_inbox(inbox: Path) -> None:
    if inbox.exists() and not inbox.is_dir():
        raise ConfigError(
            f"inbox {inbox} is not a folder", hint="set 'inbox:' or --inbox to a folder"
        )
    try:
        inbox.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the inbox {inbox}: {exc.strerror}") from None


def _base_dir(config: Config) -> Path:
    return config.source.parent if config.source is not None else Path.cwd()


def _setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for chatty in ("watchdog", "sqlalchemy"):  # their DEBUG is every event and statement
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _on_signals(service: Service) -> None:
    def stop(signum: int, _frame: object) -> None:
        log.info("%s received: finishing the current batch", signal.Signals(signum).name)
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
