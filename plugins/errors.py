"""Errors from the preprocessing plugins. Each carries a `hint` saying how to fix it."""

from __future__ import annotations


class PluginError(Exception):
    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class PluginConfigError(PluginError):
    """An unknown plugin, a bad option, or two plugins with one name."""


class StepError(PluginError):
    """One image failed in one step. It fails only that image, never the batch."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"{plugin}: {message}")
        self.plugin = plugin
        self.reason = message
