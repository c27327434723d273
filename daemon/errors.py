"""Errors the command line reports as one line, `error: <what> (<how to fix>)`."""

from __future__ import annotations


class FashiondError(Exception):
    """A failure the user can fix; `hint` tells them how."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(FashiondError):
    """A bad argument or value on the command line."""


class ConfigError(FashiondError):
    """A config file that is missing, unparsable or holds a bad value."""


class DatabaseError(FashiondError):
    """A database that cannot be opened or has an unknown schema."""


class DaemonStateError(FashiondError):
    """The daemon is running when it must not be, or the other way round."""


class ImageError(FashiondError):
    """Some of the images named on the command line could not be used."""
