"""The subcommands. Each module defines `COMMAND`; the order here is the order in --help."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

MODULES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, shown in `fashiond --help`
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def all_commands() -> list[Command]:
    return [import_module(f"{__name__}.{name}").COMMAND for name in MODULES]
