"""Errors nnet raises on purpose. Each carries a `hint` saying how to fix it."""

from __future__ import annotations


class NnetError(Exception):
    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class DataError(NnetError):
    """The training data cannot be found, or a file of it is corrupt."""


class ParamsFileError(NnetError):
    """A parameters file is missing, truncated, corrupt, or of an unknown format."""


class UnsafePickleError(ParamsFileError):
    """A parameters file asks to run code; it is refused before anything runs."""
