"""When an inbox file counts as complete: the rules `daemon.arrivals` applies, on real files.

Times are passed in (`now`) and file ages set with os.utime, so nothing here waits.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from daemon.arrivals import Arrivals
from tests.daemon_support import png


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_an_old_written_file_is_complete_after_one_look(tmp_path: Path) -> None:
    arrivals = Arrivals(quiet_period=0.05)
    path = tmp_path / "a.png"
    path.write_bytes(png())
    _age(path, 10)
    now = time.monotonic()
    arrivals.note(path, complete=False, now=now, look=False)
    assert arrivals.due(now) == []
    assert arrivals.due(now + 1) == [path]


def test_an_empty_file_is_not_complete_by_its_age_alone(tmp_path: Path) -> None:
    """A writer descheduled between open() and write() leaves an empty file that looks old."""
    arrivals = Arrivals(quiet_period=0.05, empty_grace=3600)
    path = tmp_path / "a.png"
    path.write_bytes(b"")
    _age(path, 10)
    now = time.monotonic()
    arrivals.note(path, complete=False, now=now, look=False)
    assert arrivals.due(now + 1) == []
    assert arrivals.due(now + 2) == []  # unchanged, but still empty: keep waiting
    arrivals.note(tmp_path / "a.png", complete=False, now=now + 2)  # a rescan changes nothing
    assert arrivals.due(now + 2) == []

    path.write_bytes(png())  # the writer goes on
    _age(path, 10)
    assert arrivals.due(now + 3) == []  # changed since the last look
    assert arrivals.due(now + 4) == [path]  # then unchanged for the quiet period


def test_an_empty_file_its_writer_closed_is_complete_at_once(tmp_path: Path) -> None:
    arrivals = Arrivals(quiet_period=0.05, empty_grace=3600)
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    now = time.monotonic()
    arrivals.note(path, complete=False, now=now, look=False)
    arrivals.note(path, complete=True, now=now)  # the close-after-write event
    assert arrivals.due(now) == [path]


def test_an_empty_file_left_alone_is_taken_in_after_the_grace(tmp_path: Path) -> None:
    arrivals = Arrivals(quiet_period=0.05, empty_grace=1.0)
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    _age(path, 10)  # empty for longer than the grace: a bad input, recorded as failed
    now = time.monotonic()
    arrivals.note(path, complete=False, now=now)
    assert arrivals.due(now) == [path]
