"""Things the service loop gives a moment to on every iteration (e.g. scheduled retraining).

A ticker's `poll(now)` is called from the daemon's main loop at least once a
second, between batches. It must be cheap and must not block: start a
subprocess and check on it later, rather than doing the work inline. `now` is
`time.time()` (seconds since the epoch), so calendar schedules can use it.
An exception from `poll` is logged and the daemon carries on. A ticker may also
have a `close()`, which the daemon calls once when it stops (after the last
batch), e.g. to stop a subprocess it started.
"""

from __future__ import annotations

from typing import Protocol

from daemon.config import Config
from daemon.db.database import Database


class Ticker(Protocol):
    def poll(self, now: float) -> None: ...


def build_tickers(config: Config, database: Database) -> list[Ticker]:
    """The tickers `fashiond run` starts with; add yours here."""
    from daemon.retrain_scheduler import RetrainScheduler

    return [RetrainScheduler(config, database=database)]
