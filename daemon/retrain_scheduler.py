"""Starting retrain runs on schedule, from the daemon's service loop.

The daemon calls `poll()` on every tick. A poll is cheap: it compares the
time with the next due time and asks the running supervisor process, if any,
whether it has exited; the database is read only when the next due time has
to be worked out (the first poll, and after each run). A run is a
`python -m daemon retrain` process of its own (see daemon.retrain_process), so
labeling goes on whatever happens to it, and it never blocks the loop.

Due times: an interval counts from the previous run's start (read from
model_versions, so it survives restarts); `daily` and cron are wall-clock
times. A run that fell due while the daemon was down runs once at the first
poll when `retrain.catch_up` is on; otherwise the schedule resumes from now.
After any run, failed or not, the next due time is the schedule's next one
after the run started, or after now when that has already passed, so runs
never pile up.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from daemon.config import Config
from daemon.db.database import Database
from daemon.model_registry import last_run_started, newest_run
from daemon.retrain_process import stop_process
from daemon.retraining import sweep_stale_runs
from daemon.schedule import Schedule, parse_schedule

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=5)  # when working out the due time itself failed
STOP_TIMEOUT = 30.0


class RetrainScheduler:
    """Owns at most one retrain process; the daemon calls poll() each tick and close() at exit."""

    def __init__(
        self,
        config: Config,
        *,
        database: Database,
        tz: tzinfo | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        text = config.retrain.schedule
        self.schedule: Schedule | None = parse_schedule(text, tz=tz) if text else None
        self._config = config
        self._database = database
        self._extra_args = tuple(extra_args)
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at: datetime | None = None
        self._trigger = "schedule"
        self.due: datetime | None = None  # None: not worked out yet
        self.swept = False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def poll(self, now: datetime | float | None = None) -> None:
        """Start a due run, or reap a finished one. Never raises: the loop must go on."""
        moment = _utc(now)
        try:
            self._poll(moment)
        except Exception:
            log.exception("retrain scheduler failed; trying again in %s", RETRY_AFTER)
            self.due = moment + RETRY_AFTER

    def close(self, *, timeout: float = STOP_TIMEOUT) -> None:
        """Stop a running retrain (it records itself failed) and wait for it."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            log.info("stopping the running retrain (pid %d)", process.pid)
        stop_process(process, timeout=timeout)
        self._process = None

    # --- the steps ---------------------------------------------------------------------

    def _poll(self, now: datetime) -> None:
        if not self.swept:
            self.swept = True
            failed = sweep_stale_runs(self._config, db_url=self._database.url)
            if failed:
                log.warning("retrain runs that died earlier marked failed: %s", ", ".join(failed))
        if self.schedule is None:
            return
        if self._process is not None:
            if self._process.poll() is None:
                return
            self._reap(now)
        if self.due is None:
            self.due = self._first_due(now)
        if now >= self.due:
            self._start(now)

    def _first_due(self, now: datetime) -> datetime:
        assert self.schedule is not None
        with self._database.sessions.begin() as session:
            last = last_run_started(session)
        if last is None:
            return self.schedule.next_run(now)
        due = self.schedule.next_run(last.replace(tzinfo=UTC))
        if due > now:
            return due
        if self._config.retrain.catch_up:
            log.info("a scheduled retrain was missed (due %s): running it now", _show(due))
            self._trigger = "catch-up"
            return now
        return self.schedule.next_run(now)

    def _start(self, now: datetime) -> None:
        argv = self.command(trigger=self._trigger)
        log.info("starting a %s retrain: %s", self._trigger, " ".join(argv[1:]))
        # Output joins the daemon's log (stderr). A process group of its own keeps Ctrl-C ours
        # to pass on; staying in our session keeps its nice 19 meaningful (see lower_priority).
        self._process = subprocess.Popen(argv, stdout=_stderr_fd(), process_group=0)
        self._started_at, self._trigger, self.due = now, "schedule", None

    def _reap(self, now: datetime) -> None:
        assert self._process is not None and self._started_at is not None
        code = self._process.returncode
        self._process = None
        with self._database.sessions.begin() as session:
            run = newest_run(session)
            summary = f"{run.version} {run.status}: {run.reason}" if run is not None else "no run"
        level = logging.INFO if code == 0 else logging.WARNING
        log.log(level, "retrain finished (exit status %d): %s", code, summary)
        assert self.schedule is not None
        due = self.schedule.next_run(self._started_at)
        self.due = due if due > now else self.schedule.next_run(now)
        log.info("next retrain due %s", _show(self.due))

    def command(self, *, trigger: str) -> list[str]:
        """The supervisor's command line: the same config, database and model as the daemon."""
        config = self._config
        argv = [sys.executable, "-m", "daemon", "retrain", "--quiet", "--trigger", trigger]
        if config.source is not None:
            argv += ["--config", str(config.source)]
        argv += ["--db", self._database.url, "--model", str(config.model), *self._extra_args]
        return argv


def _utc(now: datetime | float | None) -> datetime:
    """Accepts an aware datetime, a naive one (UTC), time.time(), or None for now."""
    if now is None:
        return datetime.now(UTC)
    if isinstance(now, int | float):
        return datetime.fromtimestamp(now, UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _show(moment: datetime) -> str:
    return moment.astimezone().isoformat(timespec="minutes")
