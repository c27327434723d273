"""`fashiond run` as a real process: kill -9 mid-batch, SIGTERM, and setup errors."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from daemon.cli import main
from tests.daemon_support import WAIT, make_model, png, wait_until

REPO = Path(__file__).resolve().parent.parent


def _write_config(root: Path, **extra: object) -> Path:
    lines = [
        "inbox: inbox",
        "database: sqlite:///fashiond.db",
        "model: models/current.pickle",
        "workers: 2",
        "log_level: INFO",
        "watch: {quiet_period_ms: 50}",
        "batch: {max_size: 16, max_delay_ms: 10}",
    ] + [f"{k}: {v}" for k, v in extra.items()]
    path = root / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _start(config: Path, log: Path, *flags: str) -> subprocess.Popen[bytes]:
    # A session of its own, so kill -9 can take the workers down with it, as a crash would.
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(config), *flags],
            cwd=REPO,
            stderr=stderr,
            start_new_session=True,
        )


def _count(root: Path, db_name: str = "fashiond.db") -> int:
    db = root / db_name
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("select count(*) from predictions").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _rows(root: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(root / "fashiond.db") as conn:
        return conn.execute("select filename, path, status from predictions").fetchall()


def test_kill_9_mid_batch_then_restart_records_every_file_once_in_one_place(
    tmp_path: Path,
) -> None:
    make_model(tmp_path / "models" / "current.pickle")
    config = _write_config(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = [f"img{i:03d}.png" for i in range(240)]
    for i, name in enumerate(names[:160]):
        (inbox / name).write_bytes(png(i))
    log = tmp_path / "daemon.log"

    first = _start(config, log)
    try:
        wait_until(lambda: _count(tmp_path) > 0 or first.poll() is not None)
        for i, name in enumerate(names[160:], start=160):
            (inbox / name).write_bytes(png(i))
        wait_until(lambda: _count(tmp_path) >= 100 or first.poll() is not None)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=WAIT)
    assert first.returncode == -signal.SIGKILL, log.read_text()

    second = _start(config, log)
    try:
        wait_until(lambda: _count(tmp_path) >= len(names) and not any(inbox.iterdir()))
    finally:
        second.send_signal(signal.SIGTERM)
        code = second.wait(timeout=WAIT)
    assert code == 0, log.read_text()

    recorded = _rows(tmp_path)
    assert Counter(name for name, _, _ in recorded) == Counter(names)
    places = [
        p for folder in ("labeled", "review", "failed") for p in (tmp_path / folder).rglob("*.png")
    ]
    assert sorted(str(p) for p in places) == sorted(path for _, path, _ in recorded)
    assert {status for _, _, status in recorded} == {"labeled"}
    assert list(inbox.iterdir()) == []


def test_flags_override_the_config_and_sigterm_finishes_and_exits_0(tmp_path: Path) -> None:
    make_model(tmp_path / "other.pickle", label="Coat")
    config = _write_config(tmp_path)  # names models/current.pickle, which does not exist
    inbox = tmp_path / "elsewhere"
    db = f"sqlite:///{tmp_path / 'other.db'}"
    log = tmp_path / "daemon.log"
    proc = _start(
        config, log, "--inbox", str(inbox), "--db", db, "--model", str(tmp_path / "other.pickle")
    )
    try:
        wait_until(lambda: (tmp_path / "other.heartbeat").exists() or proc.poll() is not None)
        for i in range(40):
            (inbox / f"t{i}.png").write_bytes(png(i))
        wait_until(lambda: _count(tmp_path, "other.db") > 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=WAIT)
    text = log.read_text()
    assert code == 0, text
    assert f"watching {inbox}" in text and "model v0001" in text and "grayscale" in text
    assert "SIGTERM received" in text
    assert not (tmp_path / "inbox").exists() and not (tmp_path / "fashiond.db").exists()
    assert {p.parent.name for p in (tmp_path / "labeled").rglob("*.png")} == {"Coat"}
    # Whatever was not recorded is still in the inbox, untouched.
    left = {p.name for p in inbox.iterdir()}
    assert len(left) + _count(tmp_path, "other.db") == 40


@pytest.mark.parametrize(
    ("config_text", "expected"),
    [
        ("no_such_key: 1\n", "unknown key no_such_key"),
        ("batch: {max_size: 0}\n", "batch.max_size"),
        ("watch: {observer: magic}\n", "watch.observer"),
        ("inbox: [\n", "is not valid YAML"),
    ],
)
def test_config_errors_exit_2_before_watching(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config_text: str, expected: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text, encoding="utf-8")
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1
    assert not (tmp_path / "inbox").exists()


@pytest.mark.parametrize("model_bytes", [None, b"garbage", b""])
def test_missing_or_corrupt_model_exits_4_before_watching(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_bytes: bytes | None
) -> None:
    config = _write_config(tmp_path)
    if model_bytes is not None:
        (tmp_path / "models").mkdir()
        (tmp_path / "models" / "current.pickle").write_bytes(model_bytes)
    assert main(["run", "--config", str(config)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "current.pickle" in err
    assert not (tmp_path / "fashiond.heartbeat").exists()


def test_kill_9_of_the_daemon_alone_takes_its_workers_down_too(tmp_path: Path) -> None:
    """Only the daemon's pid is killed, as the OOM killer would: no worker may linger."""
    make_model(tmp_path / "models" / "current.pickle")
    config = _write_config(tmp_path)
    log = tmp_path / "daemon.log"
    proc = _start(config, log)
    try:
        wait_until(lambda: (tmp_path / "fashiond.heartbeat").exists() or proc.poll() is not None)
        (tmp_path / "inbox" / "one.png").write_bytes(png(0))
        wait_until(lambda: _count(tmp_path) == 1 or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=WAIT)

    def group_gone() -> bool:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        wait_until(group_gone)
    finally:
        if not group_gone():
            os.killpg(proc.pid, signal.SIGKILL)
