"""The `fashiond` command line and its one error boundary.

Each subcommand lives in its own module under `daemon.commands`; this module
only builds the parser and turns expected failures into one line on stderr and
a distinct exit code (see `ExitStatus`). Anything else is a bug and keeps its
traceback.

Start-up is kept light: the parser knows every command by name and help line
only, and imports a command's module (and with it SQLAlchemy or numpy) once
that command is chosen, so `fashiond --help`, `--version` and a mistyped
command answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from daemon.commands import COMMANDS
from daemon.errors import UsageError
from daemon.exit_status import ExitStatus

PROG = "fashiond"

# Most specific first: the first matching class decides the exit code. Classes
# are named rather than imported because importing `nnet` imports numpy, the
# cost this module avoids; a class that was never imported was never raised.
_STATUS_BY_ERROR: tuple[tuple[str, ExitStatus], ...] = (
    ("daemon.errors.UsageError", ExitStatus.USAGE),
    ("daemon.errors.ConfigError", ExitStatus.USAGE),
    ("plugins.errors.PluginError", ExitStatus.USAGE),
    ("nnet.errors.DataError", ExitStatus.DATA),
    ("nnet.errors.ParamsFileError", ExitStatus.MODEL),
    ("daemon.errors.DatabaseError", ExitStatus.DATABASE),
    ("daemon.errors.ImageError", ExitStatus.IMAGE),
    ("daemon.errors.DaemonStateError", ExitStatus.DAEMON),
    ("daemon.errors.FashiondError", ExitStatus.ERROR),
    ("nnet.errors.NnetError", ExitStatus.ERROR),
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


class _Commands(argparse._SubParsersAction):
    """The subcommands, each of whose parsers gets its options only when it is chosen.

    argparse picks the command's parser and only then parses the rest of the
    line with it, so that is when its module is imported; `fashiond --help`
    shows the names and help lines without importing any.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        name = values[0]  # argparse has refused an unknown name before this
        command = next(command for command in COMMANDS if command.name == name)
        command.add_arguments(self._name_parser_map[name])
        super().__call__(parser, namespace, values, option_string)


class _Version(argparse.Action):
    """`--version`, looked up only when asked for: importlib.metadata is slow to import."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, **kwargs
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> NoReturn:
        print(f"{PROG} {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Classify clothing images dropped into a folder, with a numpy network.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback on errors"
    )
    sub = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, action=_Commands
    )
    for command in COMMANDS:
        sub.add_parser(command.name, help=command.help, description=command.help)
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
    raised = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}
    for error_class, status in _STATUS_BY_ERROR:
        if error_class in raised:
            return status
    return None


def format_error(exc: BaseException) -> str:
    """`error: <what> (<how to fix>)`, on one line whatever the message holds."""
    message = " ".join(str(exc).split())
    hint = getattr(exc, "hint", None)
    return f"error: {message}" + (f" ({' '.join(hint.split())})" if hint else "")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fashiond")
    except PackageNotFoundError:
        return "unknown"
