"""The subcommands: every module here that defines `COMMAND` is one.

Modules are found by listing the package, so adding a command is adding a file;
`ORDER` only sets where each appears in --help.
"""

from __future__ import annotations

import argparse
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

ORDER = (
    "run",
    "status",
    "train",
    "evaluate",
    "predict",
    "plugins",
    "history",
    "show",
    "stats",
    "export",
    "correct",
    "corrections",
    "reprocess",
    "retrain",
    "models",
)


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, shown in `fashiond --help`
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def all_commands() -> list[Command]:
    commands = []
    for info in pkgutil.iter_modules(__path__):
        command = getattr(import_module(f"{__name__}.{info.name}"), "COMMAND", None)
        if isinstance(command, Command):
            commands.append(command)
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(commands, key=lambda c: (rank.get(c.name, len(ORDER)), c.name))
