"""The `fashiond` command line and its one error boundary.

Each subcommand lives in its own module under `daemon.commands`; this module
only builds the parser and turns expected failures into one line on stderr and
a distinct exit code (see `ExitStatus`). Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from daemon.commands import all_commands
from daemon.errors import (
    ConfigError,
    DaemonStateError,
    DatabaseError,
    FashiondError,
    ImageError,
    UsageError,
)
from daemon.exit_status import ExitStatus
from nnet.errors import DataError, NnetError, ParamsFileError
from plugins.errors import PluginError

PROG = "fashiond"

# Most specific first: the first matching type decides the exit code.
_STATUS_BY_ERROR: tuple[tuple[type[BaseException], ExitStatus], ...] = (
    (UsageError, ExitStatus.USAGE),
    (ConfigError, ExitStatus.USAGE),
    (PluginError, ExitStatus.USAGE),
    (DataError, ExitStatus.DATA),
    (ParamsFileError, ExitStatus.MODEL),
    (DatabaseError, ExitStatus.DATABASE),
    (ImageError, ExitStatus.IMAGE),
    (DaemonStateError, ExitStatus.DAEMON),
    (FashiondError, ExitStatus.ERROR),
    (NnetError, ExitStatus.ERROR),
)


class _Parser(argparse.ArgumentParser):
    """Reports bad arguments as one line instead of usage plus message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see '{self.prog} --help'")


class _HelpFormatter(argparse.HelpFormatter):
    """Counts subcommand names at the indent they are shown at, so a long one such as
    `corrections` keeps its help on the same line (argparse counts one indent too few)."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction) and action.choices:
            longest = max(map(len, action.choices)) + self._current_indent + self._indent_increment
            self._action_max_length = max(self._action_max_length, longest)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Classify clothing images dropped into a folder, with a numpy network.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback on errors"
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in all_commands():
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(command_parser)
        command_parser.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status (never raises for user errors)."""

    def command() -> int:
        args = build_parser().parse_args(argv)
        return int(args.handler(args) or ExitStatus.SUCCESS)

    return guarded(command, argv=argv)


def guarded(action: Callable[[], int], *, argv: Sequence[str] | None) -> int:
    """The error boundary: user errors become one line and an exit code.

    main.py runs the original project's flags through the same boundary, so both
    command lines report a missing data set or a bad model file identically.
    """
    traceback_wanted = "--traceback" in (sys.argv[1:] if argv is None else argv)
    try:
        return action()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # `fashiond history | head`: the reader left, which is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.SUCCESS
    except Exception as exc:
        status = exit_status_for(exc)
        if status is None or traceback_wanted:
            raise
        print(format_error(exc), file=sys.stderr)
        return status


def exit_status_for(exc: BaseException) -> ExitStatus | None:
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status
    return None


def format_error(exc: BaseException) -> str:
    """`error: <what> (<how to fix>)`, on one line whatever the message holds."""
    message = " ".join(str(exc).split())
    hint = getattr(exc, "hint", None)
    return f"error: {message}" + (f" ({' '.join(hint.split())})" if hint else "")


def _version() -> str:
    try:
        return version("fashiond")
    except PackageNotFoundError:
        return "unknown"
