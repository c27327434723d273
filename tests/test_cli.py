from __future__ import annotations

import subprocess
import sys

import pytest

from daemon.cli import main
from daemon.commands import all_commands


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_subcommand_with_a_description() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in all_commands():
        line = next(
            row for row in result.stdout.splitlines() if row.strip().startswith(command.name)
        )
        assert command.help.split()[0] in line


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
