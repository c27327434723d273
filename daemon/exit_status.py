"""Exit codes, one per kind of failure, so scripts can tell them apart."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0
    ERROR = 1  # an unexpected failure: a bug, reported with a traceback
    USAGE = 2  # bad arguments, a bad config file, a bad query value
    DATA = 3  # Fashion-MNIST missing or corrupt
    MODEL = 4  # parameters file missing, corrupt or unsafe
    DATABASE = 5  # database cannot be opened, or is from a newer fashiond
    IMAGE = 6  # one or more images could not be read or preprocessed
    DAEMON = 7  # the daemon is already running, or a running daemon was needed
    INTERRUPTED = 130  # Ctrl-C
