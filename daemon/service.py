"""The daemon's main loop: events in, micro-batches out, one thread deciding.

The watchdog thread only enqueues `PathSeen`; this loop notes them, releases
complete files into the ready list, cuts micro-batches (full at
`batch.max_size`, or when the oldest file has waited `batch.max_delay_ms`, or
at once when nothing else is in flight), keeps up to `MAX_IN_FLIGHT` batches
in the workers, and records finished batches in order. `stop()` may be called
from a signal handler: the loop then finishes the batches in flight, commits
and returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from daemon.arrivals import Arrivals, Signature, signature
from daemon.batch import BatchReport, Recorder
from daemon.examine import Examined
from daemon.examiners import Examiners, Pending
from daemon.heartbeat import Heartbeat, now_iso, write_heartbeat
from daemon.inbox import Inbox
from daemon.live_model import LiveModel, LoadedModel
from daemon.reconcile import already_recorded
from daemon.tickers import Ticker
from daemon.watcher import PathSeen, Watcher

log = logging.getLogger(__name__)

# Batches handed to the workers and not yet recorded. Two left the workers idle
# while this process recorded and moved a batch; with four, 10,000 files moved in
# went at a median 3,070 img/s against 2,660 (benchmarks/daemon_throughput.py).
MAX_IN_FLIGHT = 4
HEARTBEAT_EVERY = 1.0
EVENTS_PER_TURN = 2048
COALESCE = 0.002  # seconds a woken loop waits for more events before it acts
DATABASE_RETRY = 5.0  # seconds to wait after a batch could not be committed
CATCH_UP_SCAN_AFTER = 1.0  # seconds of quiet after a burst, in case inotify dropped events


@dataclass(frozen=True)
class BatchSettings:
    max_size: int = 64
    max_delay: float = 0.05  # seconds


@dataclass(frozen=True)
class WatchSettings:
    rescan_interval: float = 30.0
    quiet_period: float = 0.3


@dataclass
class _InFlight:
    paths: list[Path]
    loaded: LoadedModel
    pending: Pending


@dataclass
class RunCounters:
    """This run's numbers, as the heartbeat reports them."""

    processed: int = 0
    failed: int = 0
    review: int = 0
    last_error: str | None = None
    recent: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, report: BatchReport, now: float) -> None:
        self.processed += report.recorded
        self.failed += report.counts["failed"]
        self.review += report.counts["review"]
        if report.last_error:
            self.last_error = report.last_error
        self.recent.append((now, report.recorded))

    def throughput(self, now: float, started: float) -> float:
        while self.recent and self.recent[0][0] < now - 60:
            self.recent.popleft()
        window = min(60.0, max(now - started, 1e-3))
        return sum(n for _, n in self.recent) / window


class Service:
    def __init__(
        self,
        *,
        inbox: Inbox,
        watcher: Watcher,
        events: queue.SimpleQueue[PathSeen | None],
        examiners: Examiners,
        model: LiveModel,
        recorder: Recorder,
        heartbeat_path: Path,
        batch: BatchSettings = BatchSettings(),
        watch: WatchSettings = WatchSettings(),
        tickers: Sequence[Ticker] = (),
    ) -> None:
        self._inbox = inbox
        self._watcher = watcher
        self._events = events
        self._examiners = examiners
        self._model = model
        self._recorder = recorder
        self._heartbeat_path = heartbeat_path
        self._batch = batch
        self._watch = watch
        self._tickers = list(tickers)
        self._arrivals = Arrivals(quiet_period=watch.quiet_period)
        self._ready: deque[tuple[float, Path]] = deque()
        self._claimed: set[Path] = set()  # ready, in flight, or recorded but not movable
        self._left: dict[Path, Signature] = {}  # copy/leave: processed files that stay put
        self._in_flight: deque[_InFlight] = deque()
        self._stopping = False
        self.counters = RunCounters()
        self._started = time.monotonic()
        self._started_at = now_iso()
        self._next_scan = 0.0
        self._last_scan = 0.0
        self._events_since_scan = 0
        self._next_beat = 0.0
        self._paused_until = 0.0

    # --- lifecycle ----------------------------------------------------------------

    def stop(self) -> None:
        """Safe from a signal handler or another thread."""
        self._stopping = True
        self._events.put(None)

    def _wake(self) -> None:
        self._events.put(None)

    def run(self) -> None:
        self._watcher.start()
        try:
            self._scan(time.monotonic(), first=True)
            while not self._stopping:
                self._turn()
            self._drain_in_flight()
        finally:
            self._watcher.stop()
            self._recorder.flush()
            for ticker in self._tickers:
                close = getattr(ticker, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:
                        log.exception("ticker %r failed to close", ticker)
            self._beat(time.monotonic(), stopped=True)

    def _turn(self) -> None:
        self._wait_for_events(self._timeout(time.monotonic()))
        now = time.monotonic()
        if now >= self._next_scan or self._catch_up_due(now):
            self._scan(now)
        for path in self._arrivals.due(now):
            self._claimed.add(path)
            self._ready.append((now, path))
        self._dispatch(now)
        self._finish_done(block=self._examiners.workers <= 1)
        if not self._ready and not self._in_flight:
            self._recorder.flush()  # idle: commit the placed marks now, not with a next batch
        self._tick()
        if now >= self._next_beat:
            self._beat(now)

    # --- events and scans ---------------------------------------------------------------

    def _wait_for_events(self, timeout: float) -> None:
        try:
            item = (
                self._events.get(timeout=max(timeout, 0.0))
                if timeout > 0
                else self._events.get_nowait()
            )
        except queue.Empty:
            return
        # Let a burst gather: one loop turn per event cost more than the event itself.
        time.sleep(COALESCE)
        now = time.monotonic()
        for _ in range(EVENTS_PER_TURN):
            if item is not None:
                self._note(item, now)
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return

    def _note(self, seen: PathSeen, now: float) -> None:
        self._events_since_scan += 1
        if seen.kind == "folder" and self._inbox.recursive:
            for path in self._inbox.scan_folder(seen.path):
                self._note_path(path, complete=False, now=now)
        elif seen.kind == "folder" and self._inbox.accepts(seen.path):
            self._note_path(seen.path, complete=False, now=now)  # a folder named x.png: bad input
        elif self._inbox.accepts(seen.path):
            self._note_path(seen.path, complete=seen.kind != "created", now=now, look=False)

    def _note_path(self, path: Path, *, complete: bool, now: float, look: bool = True) -> None:
        if path in self._claimed:
            return
        left = self._left.get(path)
        if left is not None:
            try:
                if signature(os.lstat(path)) == left:
                    return
            except OSError:
                pass
            del self._left[path]
        self._arrivals.note(path, complete=complete, now=now, look=look)

    def _scan(self, now: float, *, first: bool = False) -> None:
        found = [p for p in self._inbox.scan() if p not in self._claimed and p not in self._left]
        if first and self._recorder.mode != "move":
            for path in already_recorded(self._recorder.database, found):
                self._remember_left(path)
        for path in found:
            self._note_path(path, complete=False, now=now)
        self._next_scan = now + self._watch.rescan_interval
        self._last_scan = now
        self._events_since_scan = 0

    def _catch_up_due(self, now: float) -> bool:
        return (
            self._events_since_scan > self._batch.max_size
            and not self._ready
            and not self._in_flight
            and now - self._last_scan >= CATCH_UP_SCAN_AFTER
        )

    def _timeout(self, now: float) -> float:
        deadlines = [self._next_scan, self._next_beat]
        if self._ready and len(self._in_flight) < MAX_IN_FLIGHT:
            deadlines.append(max(self._ready[0][0] + self._batch.max_delay, self._paused_until))
        arrival = self._arrivals.next_deadline()
        if arrival is not None:
            deadlines.append(arrival)
        if self._events_since_scan > self._batch.max_size and not (self._ready or self._in_flight):
            deadlines.append(self._last_scan + CATCH_UP_SCAN_AFTER)
        return min(deadlines) - now

    # --- batches ----------------------------------------------------------------------

    def _dispatch(self, now: float) -> None:
        if now < self._paused_until:
            return
        while self._ready and len(self._in_flight) < MAX_IN_FLIGHT and not self._stopping:
            full = len(self._ready) >= self._batch.max_size
            aged = now - self._ready[0][0] >= self._batch.max_delay
            idle = not self._in_flight and self._events.empty()
            if not (full or aged or idle):
                return
            self._model.refresh()
            loaded = self._model.current
            paths = [
                self._ready.popleft()[1] for _ in range(min(self._batch.max_size, len(self._ready)))
            ]
            pending = self._examiners.submit(paths, loaded.model_input)
            pending.when_done(self._wake)
            self._in_flight.append(_InFlight(paths, loaded, pending))
            if self._examiners.workers <= 1:
                self._finish_done(block=True)

    def _finish_done(self, *, block: bool) -> None:
        while self._in_flight and (block or self._in_flight[0].pending.done()):
            batch = self._in_flight.popleft()
            examined = self._examiners.results(batch.pending, batch.loaded.model_input)
            self._record(batch, examined)

    def _drain_in_flight(self) -> None:
        self._finish_done(block=True)

    def _record(self, batch: _InFlight, examined: list[Examined]) -> None:
        try:
            report = self._recorder.record(examined, batch.loaded)
        except SQLAlchemyError as exc:
            # Rolled back: nothing recorded, nothing moved. Retry the files after a pause.
            message = " ".join(str(exc).split())[:300]
            log.error(
                "cannot record a batch of %d, retrying in %.0f s: %s",
                len(batch.paths),
                DATABASE_RETRY,
                message,
            )
            self.counters.last_error = f"database: {message}"
            self._ready.extendleft((time.monotonic(), p) for p in reversed(batch.paths))
            self._paused_until = time.monotonic() + DATABASE_RETRY
            return
        now = time.monotonic()
        self.counters.add(report, now)
        for path in batch.paths:
            if path not in report.stuck:
                self._claimed.discard(path)
        if self._recorder.mode != "move":
            for path in report.finished:
                self._remember_left(path)
        if report.recorded:
            log.debug("batch of %d recorded: %s", report.recorded, dict(report.counts))
        for error in report.errors:
            log.warning("failed: %s", error)

    def _remember_left(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            self._left[path] = signature(os.lstat(path))

    # --- the rest of the loop ---------------------------------------------------------

    def _tick(self) -> None:
        now = time.time()
        for ticker in self._tickers:
            try:
                ticker.poll(now)
            except Exception:
                log.exception("ticker %r failed", ticker)

    @property
    def model_version(self) -> str:
        return self._model.current.version

    @property
    def queue_depth(self) -> int:
        return len(self._arrivals) + len(self._ready) + sum(len(b.paths) for b in self._in_flight)

    def _beat(self, now: float, *, stopped: bool = False) -> None:
        c = self.counters
        beat = Heartbeat(
            pid=os.getpid(),
            started_at=self._started_at,
            updated_at=now_iso(),
            model_version=self._model.current.version,
            queue_depth=self.queue_depth,
            processed=c.processed,
            failed=c.failed,
            review=c.review,
            last_error=c.last_error,
            throughput_1m=round(c.throughput(now, self._started), 2),
            inbox=str(self._inbox.root),
            stopped_at=now_iso() if stopped else None,
        )
        try:
            write_heartbeat(self._heartbeat_path, beat)
        except OSError as exc:
            log.warning("cannot write the heartbeat %s: %s", self._heartbeat_path, exc)
        self._next_beat = now + HEARTBEAT_EVERY
