"""watchdog, reduced to small events on a queue.

The handler runs on watchdog's thread and only enqueues: deciding what a path
is, whether it is complete and what to do with it is the service loop's job.
Only the event kinds the daemon uses are subscribed to, so inotify does not
report the daemon's own reads (open, close-without-write) back to it.

On Linux the inotify watch leaves out IN_MOVED_FROM: watchdog holds every
IN_MOVED_FROM for half a second to pair it with its IN_MOVED_TO, and its queue
is first-in first-out, so each file the daemon moves out of the inbox would
delay every later event by 0.5 s. Without it, a file renamed or moved into the
inbox arrives as "created" (IN_MOVED_TO with no partner), which is all the
daemon needs to know.
"""

from __future__ import annotations

import logging
import os
import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

try:
    from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
    from watchdog.observers.inotify_c import InotifyConstants
except ImportError:  # not Linux
    InotifyEmitter = InotifyObserver = InotifyConstants = None  # type: ignore[assignment,misc]
try:  # watchdog >= 6's move pairing, replaced below when present
    from watchdog.observers.inotify import InotifyWatchGroup
    from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper
except ImportError:
    InotifyWatchGroup = InotifyMoveEventGrouper = None  # type: ignore[assignment,misc]

ObserverKind = Literal["native", "polling"]

# created: a name appeared (written now, or moved or renamed in);
# closed: a writer closed it after writing; renamed: moved within the watch
# (polling observer only); folder: a directory appeared.
Kind = Literal["created", "closed", "renamed", "folder"]


@dataclass(frozen=True)
class PathSeen:
    path: Path
    kind: Kind


class _Enqueue(FileSystemEventHandler):
    def __init__(self, events: queue.SimpleQueue[PathSeen | None]) -> None:
        self._events = events

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileClosedEvent):
            self._put(event.src_path, "closed")
        elif isinstance(event, FileCreatedEvent):
            self._put(event.src_path, "created")
        elif isinstance(event, FileMovedEvent):
            self._put(event.dest_path, "renamed")
        elif isinstance(event, DirCreatedEvent):
            self._put(event.src_path, "folder")
        elif isinstance(event, DirMovedEvent):
            self._put(event.dest_path, "folder")

    def _put(self, path: str | bytes, kind: Kind) -> None:
        if path:
            self._events.put(PathSeen(Path(path if isinstance(path, str) else path.decode()), kind))


def _unpaired_watch_group() -> type | None:
    """watchdog's watch group, minus the search for a move's other half.

    For every IN_MOVED_TO, watchdog scans its whole queue of pending events
    (twice) for the matching IN_MOVED_FROM. The inbox watch never asks for
    IN_MOVED_FROM, so the search never finds one, and in a burst of files
    moved in (a backlog of thousands) it made the watcher thread quadratic:
    about a fifth of the daemon process's CPU per file, measured with py-spy.
    """
    if InotifyWatchGroup is None or InotifyMoveEventGrouper is None:
        return None
    if not all(
        hasattr(InotifyMoveEventGrouper, name)
        for name in ("_group_moved_to_event", "get_queued_moved_from_event")
    ) or "_move_event_grouper" not in getattr(InotifyWatchGroup, "__dataclass_fields__", {}):
        return None

    class _Unpaired(InotifyMoveEventGrouper):  # type: ignore[misc,valid-type]
        def _group_moved_to_event(self, to_event: Any) -> Any:
            return to_event

        def get_queued_moved_from_event(self, cookie: int) -> None:
            return None

    @dataclass
    class InboxWatchGroup(InotifyWatchGroup):  # type: ignore[misc,valid-type]
        _move_event_grouper: InotifyMoveEventGrouper = field(default_factory=_Unpaired, init=False)

    return InboxWatchGroup


def _inbox_emitter_class() -> type | None:
    if InotifyEmitter is None or not hasattr(InotifyEmitter, "get_event_mask_from_filter"):
        return None
    c = InotifyConstants
    group = _unpaired_watch_group()

    class InboxInotifyEmitter(InotifyEmitter):  # type: ignore[misc,valid-type]
        def get_event_mask_from_filter(self) -> int:
            return c.IN_CREATE | c.IN_MOVED_TO | c.IN_CLOSE_WRITE | c.IN_DELETE_SELF

        def on_thread_start(self) -> None:
            if group is None or not hasattr(self, "_inotify_fd"):
                super().on_thread_start()
                return
            self._inotify = group(
                self._inotify_fd,
                os.fsencode(self.watch.path),
                is_recursive=self.watch.is_recursive,
                event_mask=self.get_event_mask_from_filter(),
                follow_symlink=getattr(self.watch, "follow_symlink", False),
            )

    return InboxInotifyEmitter


def _native_observer() -> BaseObserver:
    observer = Observer()
    emitter = _inbox_emitter_class()
    if (
        emitter is not None
        and isinstance(observer, InotifyObserver)
        and hasattr(observer, "_emitter_class")
    ):
        observer._emitter_class = emitter  # watchdog has no public way to set the inotify mask
    return observer


class _StopRace(logging.Filter):
    """watchdog logs an ERROR when its emitter thread reads once more while stopping; harmless."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in str(record.msg)


_STOP_RACE = _StopRace()


class Watcher:
    """One observer on the inbox; `start` before the startup scan so no file falls between."""

    def __init__(
        self,
        root: Path,
        events: queue.SimpleQueue[PathSeen | None],
        *,
        kind: ObserverKind = "native",
        recursive: bool = False,
        polling_interval: float = 1.0,
    ) -> None:
        self.kind = kind
        self._observer: BaseObserver = (
            PollingObserver(timeout=polling_interval) if kind == "polling" else _native_observer()
        )
        self._observer.schedule(
            _Enqueue(events),
            str(root),
            recursive=recursive,
            event_filter=[
                FileCreatedEvent,
                FileClosedEvent,
                FileMovedEvent,
                DirCreatedEvent,
                DirMovedEvent,
            ],
        )
        self._observer.name = "fashiond-watcher"

    @property
    def reports_close(self) -> bool:
        """Whether close-after-write events arrive (inotify does; polling never)."""
        return self.kind == "native" and type(self._observer).__name__ == "InotifyObserver"

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        logging.getLogger("watchdog.observers.inotify").addFilter(_STOP_RACE)
        self._observer.stop()
        self._observer.join(timeout=5)
