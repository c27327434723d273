"""Deciding when a file in the inbox is complete enough to read.

A close-after-write event (inotify) or a rename into the inbox means the
writer is done. Otherwise (the polling observer, the startup scan, a file moved
in from another filesystem) a file is complete once its size and mtime have not
changed for the quiet period; a file whose mtime is already older than that is
complete at once, which keeps a startup with a full inbox fast.
"""

from __future__ import annotations

import heapq
import itertools
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

EMPTY_GRACE = 5.0  # seconds an empty file must stay empty before it is taken in (no close seen)

Signature = tuple[int, int, int]  # (st_ino, st_size, st_mtime_ns)


def signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class _Waiting:
    signature: Signature | None  # None: not looked at yet
    deadline: float


class Arrivals:
    """Paths noted by events and scans, released by `due` once complete, each once."""

    def __init__(self, *, quiet_period: float, empty_grace: float = EMPTY_GRACE) -> None:
        self.quiet_period = quiet_period
        self.empty_grace = max(empty_grace, quiet_period)
        self._waiting: dict[Path, _Waiting] = {}
        # (deadline, sequence, path): the sequence breaks ties, so the heap never compares
        # Paths (a burst notes thousands with one deadline; PurePath.__lt__ showed in profiles).
        self._deadlines: list[tuple[float, int, Path]] = []
        self._sequence = itertools.count()
        self._ready: dict[Path, None] = {}  # insertion-ordered set

    def __len__(self) -> int:
        return len(self._waiting) + len(self._ready)

    def note(self, path: Path, *, complete: bool, now: float, look: bool = True) -> None:
        """`complete`: the writer is known to be done. `look`: stat now rather than at the
        deadline (a scan wants old files at once; an event's file is usually closed soon)."""
        if path in self._ready:
            return
        if complete:
            self._waiting.pop(path, None)
            self._ready[path] = None  # whether it still exists is the examiner's business
            return
        if path in self._waiting:
            return
        sig = None
        if look:
            try:
                st = os.lstat(path)
            except OSError:
                return  # gone again: nothing to take in
            if self._settled(st):
                self._ready[path] = None
                return
            sig = signature(st)
        self._waiting[path] = _Waiting(sig, now + self.quiet_period)
        heapq.heappush(self._deadlines, (now + self.quiet_period, next(self._sequence), path))

    def _settled(self, st: os.stat_result) -> bool:
        """Unchanged for the quiet period; a link or a device is never written to, so at once."""
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return True
        return time.time() - st.st_mtime >= self._quiet_for(st)

    def _quiet_for(self, st: os.stat_result) -> float:
        """An empty regular file is what a writer has between open() and its first write();
        a writer descheduled longer than the quiet period there (a loaded machine) had
        the daemon read 0 bytes and record a good image as failed. Empty files wait longer."""
        return (
            self.empty_grace if st.st_size == 0 and stat.S_ISREG(st.st_mode) else self.quiet_period
        )

    def due(self, now: float) -> list[Path]:
        """The paths that became complete, oldest first; each is returned once."""
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, path = heapq.heappop(self._deadlines)
            self._recheck(path, now)
        ready = list(self._ready)
        self._ready.clear()
        return ready

    def next_deadline(self) -> float | None:
        return self._deadlines[0][0] if self._deadlines else None

    def _recheck(self, path: Path, now: float) -> None:
        waiting = self._waiting.get(path)
        if waiting is None or waiting.deadline > now:
            return
        try:
            st = os.lstat(path)
        except OSError:
            del self._waiting[path]
            return
        current = signature(st)
        stable = current == waiting.signature and (
            st.st_size > 0 or time.time() - st.st_mtime >= self._quiet_for(st)
        )
        if stable or (waiting.signature is None and self._settled(st)):
            del self._waiting[path]
            self._ready[path] = None
        else:
            waiting.signature = current
            waiting.deadline = now + self.quiet_period
            heapq.heappush(self._deadlines, (waiting.deadline, next(self._sequence), path))
