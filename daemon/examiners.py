"""Where files are examined: in the daemon's own process, or in worker processes.

Reading, hashing and decoding are the bulk of the work per image and they hold
the GIL, so with more than one worker they run in a process pool while the
daemon's process watches, predicts, records and moves. Workers come from a
forkserver (started before the observer thread, never forked from a process
with threads), each builds the plugin chain once per model input format, and
ignores SIGINT so Ctrl-C reaches only the daemon, which finishes its batch.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.examine import Examined, examine
from plugins.api import ModelInput
from plugins.chain import Chain

log = logging.getLogger(__name__)

ChainEntries = Sequence[tuple[str, Mapping[str, Any]]]

_worker_chains: dict[ModelInput, Chain] = {}
_worker_setup: tuple[ChainEntries, Path | None] = ((), None)


def _init_worker(entries: ChainEntries, plugins_dir: Path | None, daemon_pid: int) -> None:
    global _worker_setup
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_setup = (entries, plugins_dir)
    threading.Thread(
        target=_exit_when_gone, args=(daemon_pid,), name="daemon-watch", daemon=True
    ).start()


def _exit_when_gone(daemon_pid: int) -> None:
    """End this worker when the daemon ends, however it ends.

    A daemon killed with -9 cannot shut its pool down, and each worker holds the
    forkserver's pipe open, so without this the workers and the forkserver would
    live on forever. A pidfd wakes us the moment the daemon is gone; where there
    is none, a once-a-second check does the same.
    """
    try:
        pidfd = os.pidfd_open(daemon_pid)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):
        with contextlib.suppress(ProcessLookupError):
            while True:
                os.kill(daemon_pid, 0)
                time.sleep(1.0)
    else:
        select.select([pidfd], [], [])
    os._exit(0)


def _examine_chunk(paths: list[Path], model_input: ModelInput) -> list[Examined]:
    chain = _worker_chains.get(model_input)
    if chain is None:
        entries, plugins_dir = _worker_setup
        chain = Chain.build(entries, plugins_dir=plugins_dir, model_input=model_input)
        _worker_chains[model_input] = chain
    return [examine(p, chain) for p in paths]


@dataclass
class Pending:
    """The examination of one batch, possibly still running in the workers."""

    parts: list[tuple[list[Path], Future[list[Examined]] | list[Examined]]]

    def done(self) -> bool:
        return all(not isinstance(p, Future) or p.done() for _, p in self.parts)

    def when_done(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from another thread) as each part finishes."""
        for _, part in self.parts:
            if isinstance(part, Future):
                part.add_done_callback(lambda _f: callback())


class Examiners:
    """`workers` == 1 examines in this process; more uses that many worker processes."""

    def __init__(self, *, entries: ChainEntries, plugins_dir: Path | None, workers: int) -> None:
        self._entries = [(name, dict(options)) for name, options in entries]
        self._plugins_dir = plugins_dir
        self.workers = workers
        self._local: dict[ModelInput, Chain] = {}
        self._pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self._pool = self._new_pool()

    def chain(self, model_input: ModelInput) -> Chain:
        """The chain in this process (validates the config; used when workers == 1)."""
        chain = self._local.get(model_input)
        if chain is None:
            chain = Chain.build(
                self._entries, plugins_dir=self._plugins_dir, model_input=model_input
            )
            self._local[model_input] = chain
        return chain

    def submit(self, paths: Sequence[Path], model_input: ModelInput) -> Pending:
        if self._pool is None:
            chain = self.chain(model_input)
            return Pending([(list(paths), [examine(p, chain) for p in paths])])
        n = min(self.workers, len(paths))
        size = -(-len(paths) // n)
        chunks = [list(paths[i : i + size]) for i in range(0, len(paths), size)]
        return Pending([(c, self._pool.submit(_examine_chunk, c, model_input)) for c in chunks])

    def results(self, pending: Pending, model_input: ModelInput) -> list[Examined]:
        """Wait for a batch; files whose worker died are retried one by one, then failed."""
        out: list[Examined] = []
        for paths, part in pending.parts:
            if not isinstance(part, Future):
                out.extend(part)
                continue
            try:
                out.extend(part.result())
            except BrokenProcessPool:
                out.extend(self._retry_alone(paths, model_input))
            except Exception as exc:  # a bug in a worker: fail these files, keep the daemon
                log.exception("a preprocessing worker failed on %d files", len(paths))
                error = f"preprocessing worker error: {type(exc).__name__}: {exc}"
                out.extend(Examined(p, error=error) for p in paths)
        return out

    def _retry_alone(self, paths: list[Path], model_input: ModelInput) -> list[Examined]:
        log.warning("a preprocessing worker died; retrying its %d files one by one", len(paths))
        out = []
        for path in paths:
            self._restart()
            assert self._pool is not None
            try:
                out.extend(self._pool.submit(_examine_chunk, [path], model_input).result())
            except BrokenProcessPool:
                out.append(Examined(path, error="crashed the preprocessing worker"))
        self._restart()
        return out

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=_context(),
            initializer=_init_worker,
            initargs=(self._entries, self._plugins_dir, os.getpid()),
        )

    def warm(self, model_input: ModelInput) -> None:
        """Start the workers and build their chains now, not on the first file (no waiting)."""
        if self._pool is not None:
            for _ in range(self.workers):
                self._pool.submit(_examine_chunk, [], model_input)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["daemon.examiners"])
        return ctx
    return multiprocessing.get_context("spawn")
