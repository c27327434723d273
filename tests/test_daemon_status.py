"""`fashiond status` before the daemon ever ran, and with a malformed --db."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.cli import main


def test_before_the_first_run_status_says_not_running_and_exits_7(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fashiond.db'}"
    assert main(["status", "--db", url]) == 7
    out = capsys.readouterr().out
    assert out.startswith("daemon:      not running") and "'fashiond run' creates it" in out
    assert not (tmp_path / "fashiond.db").exists()


def test_a_bare_path_for_db_is_one_error_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--db", str(tmp_path / "x.db")]) == 5
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not a database URL" in err
    assert err.count("\n") == 1
