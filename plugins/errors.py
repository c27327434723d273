"""Errors from the preprocessing plugins. Each carries a `hint` saying how to fix it."""

from __future__ import annotations


class PluginError(Exception):
    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class PluginConfigError(PluginError):
    """An unknown plugin, a bad option, or two plugins with one name."""
