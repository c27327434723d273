from __future__ import annotations

import pkgutil
import subprocess
import sys
from importlib import import_module

import pytest

import daemon.commands
from daemon.cli import _STATUS_BY_ERROR, exit_status_for, main
from daemon.commands import COMMANDS
from daemon.exit_status import ExitStatus

HEAVY = ("sqlalchemy", "numpy")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_subcommand_with_a_description() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        line = next(
            row for row in result.stdout.splitlines() if row.strip().startswith(command.name)
        )
        assert command.help.split()[0] in line


def test_every_command_module_is_listed_and_every_listed_command_has_a_module() -> None:
    modules = {
        info.name
        for info in pkgutil.iter_modules(daemon.commands.__path__)
        if hasattr(import_module(f"daemon.commands.{info.name}"), "run")
    }
    assert modules == {command.name for command in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_each_command_help_shows_its_own_options(
    command: daemon.commands.Command, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command.name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: fashiond {command.name} ")
    assert command.help in " ".join(out.split())
    assert "--config FILE" in out


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["no-such-command"]], ids=" ".join)
def test_answers_that_need_no_command_import_neither_sqlalchemy_nor_numpy(
    argv: list[str],
) -> None:
    """Start-up time is mostly these two libraries; --help and --version must not pay it."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "daemon", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "daemon" in imported  # the probe sees the command line's own imports
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
    assert result.returncode == (2 if argv == ["no-such-command"] else 0)


def test_a_command_imports_its_module_when_chosen() -> None:
    """The other side of lazy start-up: the chosen command does get its libraries."""
    result = run_cli("history", "--db", "sqlite:////nonexistent/fashiond.db")
    assert result.returncode == ExitStatus.DATABASE
    assert result.stderr.startswith("error: database sqlite:////nonexistent/fashiond.db")


def test_every_error_class_the_boundary_names_exists() -> None:
    for qualified_name, _status in _STATUS_BY_ERROR:
        module, _, name = qualified_name.rpartition(".")
        assert issubclass(getattr(import_module(module), name), Exception), qualified_name


def test_exit_status_follows_the_error_class_and_its_subclasses() -> None:
    from daemon.errors import FashiondError, UsageError
    from nnet.errors import DataError, UnsafePickleError
    from plugins.errors import StepError

    assert exit_status_for(UsageError("x")) == ExitStatus.USAGE
    assert exit_status_for(StepError("crop", "x")) == ExitStatus.USAGE
    assert exit_status_for(DataError("x")) == ExitStatus.DATA
    assert exit_status_for(UnsafePickleError("x")) == ExitStatus.MODEL
    assert exit_status_for(FashiondError("x")) == ExitStatus.ERROR
    assert exit_status_for(ValueError("x")) is None


@pytest.mark.parametrize("argv", [["no-such-command"], ["--no-such-flag"]])
def test_unknown_command_or_flag_is_one_line_and_exit_2(argv: list[str]) -> None:
    result = run_cli(*argv)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("fashiond ")
