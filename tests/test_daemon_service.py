"""The daemon in a thread: real watchdog observer, real SQLite, real PNG files."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from daemon.cli import main
from daemon.commands.run import open_daemon
from daemon.config import Config, WatchConfig
from daemon.db.database import open_database
from daemon.db.ingest import insert_rows
from daemon.db.schema import ModelVersion, utcnow
from daemon.errors import DaemonStateError
from daemon.filing import place
from nnet.architectures import CNN
from nnet.params_file import load_params, save_params
from tests.daemon_support import (
    config_for,
    files_under,
    make_model,
    png,
    rows,
    running,
    wait_for_rows,
    wait_until,
)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    make_model(tmp_path / "models" / "current.pickle", label="Bag")
    return config_for(tmp_path)


def test_a_dropped_png_is_labeled_recorded_and_moved(config: Config) -> None:
    with running(config):
        (config.inbox / "shirt.png").write_bytes(png(1))
        (row,) = wait_for_rows(config, 1)
    assert row["status"] == "labeled"
    assert row["label"] == "Bag"
    assert row["filename"] == "shirt.png"
    assert row["model_version"] == "v0001"
    assert row["confidence"] > 0.99
    assert row["processing_ms"] is not None
    assert len(json.loads(row["probabilities"])) == 10
    assert Path(row["path"]) == config.labeled_dir / "Bag" / "shirt.png"
    assert Path(row["path"]).read_bytes() == png(1)
    assert list(config.inbox.iterdir()) == []


def test_the_daemon_serves_a_cnn_exactly_like_an_mlp(tmp_path: Path) -> None:
    """Worker processes, one batched prediction, the same rows: only the file differs."""
    make_model(tmp_path / "models" / "current.pickle", label="Sneaker", arch=CNN)
    config = config_for(tmp_path, workers=2)
    with running(config):
        for i in range(5):
            (config.inbox / f"shoe{i}.png").write_bytes(png(i))
        found = wait_for_rows(config, 5)
    assert {(r["status"], r["label"]) for r in found} == {("labeled", "Sneaker")}
    assert sorted(p.name for p in files_under(config.labeled_dir / "Sneaker")) == [
        f"shoe{i}.png" for i in range(5)
    ]


def test_files_already_in_the_inbox_are_taken_in_and_temporary_ones_are_not(
    config: Config,
) -> None:
    config.inbox.mkdir(parents=True)
    for i in range(5):
        (config.inbox / f"old{i}.png").write_bytes(png(i))
    for name in (".hidden.png", "upload.png.part", "x.tmp", "~lock.png", "notes.txt"):
        (config.inbox / name).write_bytes(png(9))
    with running(config):
        found = wait_for_rows(config, 5)
    assert sorted(r["filename"] for r in found) == [f"old{i}.png" for i in range(5)]
    assert len(list(config.inbox.iterdir())) == 5


def test_label_folder_is_sanitised_and_collisions_get_a_suffix(tmp_path: Path) -> None:
    make_model(tmp_path / "models" / "current.pickle", label="T-shirt/top")
    config = config_for(tmp_path)
    with running(config):
        (config.inbox / "a.png").write_bytes(png(1))
        wait_for_rows(config, 1)
        (config.inbox / "a.png").write_bytes(png(2))
        found = wait_for_rows(config, 2)
    folder = config.labeled_dir / "T-shirt_top"
    assert sorted(p.name for p in folder.iterdir()) == ["a-1.png", "a.png"]
    assert [r["label"] for r in found] == ["T-shirt/top", "T-shirt/top"]
    assert not (config.labeled_dir / "T-shirt").exists()


def test_low_confidence_goes_to_review_and_is_still_recorded(tmp_path: Path) -> None:
    make_model(tmp_path / "models" / "current.pickle", label=None)
    config = config_for(tmp_path)
    with running(config):
        (config.inbox / "unsure.png").write_bytes(png(1))
        (row,) = wait_for_rows(config, 1)
    assert row["status"] == "review"
    assert Path(row["path"]).parent.parent == config.review_dir
    assert Path(row["path"]).exists()


def test_identical_content_is_a_duplicate_pointing_to_the_first(config: Config) -> None:
    with running(config):
        (config.inbox / "first.png").write_bytes(png(7))
        wait_for_rows(config, 1)
        (config.inbox / "again.png").write_bytes(png(7))
        (config.inbox / "first.png").write_bytes(png(7))
        found = wait_for_rows(config, 3)
    first, *dups = found
    assert first["status"] == "labeled"
    assert [d["status"] for d in dups] == ["duplicate", "duplicate"]
    assert [d["duplicate_of"] for d in dups] == [first["id"], first["id"]]
    assert all(d["label"] == first["label"] and d["sha256"] == first["sha256"] for d in dups)
    assert len(files_under(config.labeled_dir)) == 3


def test_duplicates_within_one_batch(config: Config) -> None:
    config.inbox.mkdir(parents=True)
    for name in ("x1.png", "x2.png", "x3.png"):
        (config.inbox / name).write_bytes(png(3))
    with running(config):
        found = wait_for_rows(config, 3)
    statuses = sorted(r["status"] for r in found)
    assert statuses == ["duplicate", "duplicate", "labeled"]
    (original,) = [r for r in found if r["status"] == "labeled"]
    assert {r["duplicate_of"] for r in found if r["status"] == "duplicate"} == {original["id"]}


def test_files_renamed_into_the_inbox_are_taken_in(config: Config, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with running(config):
        (config.inbox / "upload.png.part").write_bytes(png(1))
        (config.inbox / "upload.png.part").rename(config.inbox / "upload.png")
        (outside / "moved.png").write_bytes(png(2))
        (outside / "moved.png").rename(config.inbox / "moved.png")
        found = wait_for_rows(config, 2)
    assert sorted(r["filename"] for r in found) == ["moved.png", "upload.png"]


def test_polling_observer_and_recursive_inbox(tmp_path: Path) -> None:
    make_model(tmp_path / "models" / "current.pickle")
    watch = WatchConfig(
        observer="polling", polling_interval=0.1, recursive=True, quiet_period_ms=50
    )
    config = config_for(tmp_path, watch=watch)
    with running(config):
        (config.inbox / "sub" / "deeper").mkdir(parents=True)
        (config.inbox / "sub" / "deeper" / "x.png").write_bytes(png(1))
        (config.inbox / "top.png").write_bytes(png(2))
        found = wait_for_rows(config, 2)
    assert sorted(r["filename"] for r in found) == ["sub/deeper/x.png", "top.png"]


@pytest.mark.parametrize("mode", ["leave", "copy"])
def test_output_leave_and_copy_keep_the_inbox_file_and_record_it_once(
    tmp_path: Path, mode: str
) -> None:
    make_model(tmp_path / "models" / "current.pickle")
    config = config_for(tmp_path, output=mode)
    config.inbox.mkdir(parents=True)
    (config.inbox / "kept.png").write_bytes(png(1))
    with running(config):
        wait_for_rows(config, 1)
    with running(config):  # a restart must not record it again, nor a rescan
        (config.inbox / "new.png").write_bytes(png(2))
        wait_for_rows(config, 2)
    assert sorted(p.name for p in config.inbox.iterdir()) == ["kept.png", "new.png"]
    assert [r["filename"] for r in rows(config)] == ["kept.png", "new.png"]
    assert (config.labeled_dir / "Bag" / "kept.png").exists() == (mode == "copy")


def test_hot_swap_of_the_model_file_and_a_bad_replacement(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    models = tmp_path / "models"
    make_model(models / "v1.pickle", label="Bag")
    make_model(models / "v2.pickle", label="Sneaker", seed=1)
    (models / "current.pickle").symlink_to("v1.pickle")
    config = config_for(tmp_path)
    caplog.set_level(logging.INFO, logger="daemon.live_model")
    with running(config):
        (config.inbox / "one.png").write_bytes(png(1))
        wait_for_rows(config, 1)
        # Repoint the symlink atomically, as retraining does.
        (models / "tmp-link").symlink_to("v2.pickle")
        (models / "tmp-link").replace(models / "current.pickle")
        (config.inbox / "two.png").write_bytes(png(2))
        wait_for_rows(config, 2)
        (models / "junk.pickle").write_bytes(b"not a parameters file")
        (models / "tmp-link").symlink_to("junk.pickle")
        (models / "tmp-link").replace(models / "current.pickle")
        (config.inbox / "three.png").write_bytes(png(3))
        wait_for_rows(config, 3)
        (models / "tmp-link").symlink_to("v1.pickle")  # back, as a rollback does
        (models / "tmp-link").replace(models / "current.pickle")
        (config.inbox / "four.png").write_bytes(png(4))
        found = wait_for_rows(config, 4)
    assert [(r["label"], r["model_version"]) for r in found] == [
        ("Bag", "v0001"),
        ("Sneaker", "v0002"),
        ("Sneaker", "v0002"),
        ("Bag", "v0001"),
    ]
    assert "model swapped: v0001 -> v0002" in caplog.text
    assert "kept model v0002" in caplog.text
    database = open_database(config.database)
    with database.sessions.begin() as session:
        statuses = dict(session.execute(select(ModelVersion.version, ModelVersion.status)).all())
    database.dispose()
    assert statuses == {"v0001": "active", "v0002": "retired"}


@pytest.mark.parametrize("linked", [False, True], ids=["before-the-move", "after-the-link"])
def test_reconcile_finishes_a_move_a_crash_interrupted(config: Config, linked: bool) -> None:
    """The states kill -9 leaves after the commit: a row unplaced, the file in the inbox;
    or (the move is link() then unlink()) the file at both names."""
    config.inbox.mkdir(parents=True)
    source = config.inbox / "crashed.png"
    source.write_bytes(png(5))
    target = config.labeled_dir / "Bag" / "crashed.png"
    if linked:
        target.parent.mkdir(parents=True)
        os.link(source, target)
    database = open_database(config.database, create=True)
    with database.sessions.begin() as session:
        insert_rows(session, [_row(source, target, "labeled")])
    database.dispose()
    with running(config):
        (config.inbox / "after.png").write_bytes(png(6))
        found = wait_for_rows(config, 2)
    assert [r["filename"] for r in found] == ["crashed.png", "after.png"]
    assert found[0]["path"] == str(target)
    assert target.read_bytes() == png(5)
    assert not source.exists()
    assert sorted(p.name for p in config.labeled_dir.rglob("*.png")) == ["after.png", "crashed.png"]


def test_status_while_running_and_after(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", config.database]
    with running(config):
        (config.inbox / "s.png").write_bytes(png(1))
        (config.inbox / "bad.png").write_bytes(b"hello")
        wait_for_rows(config, 2)
        wait_until(
            lambda: '"processed": 2' in (config.inbox.parent / "fashiond.heartbeat").read_text()
        )
        assert main(["status", *db]) == 0
        out = capsys.readouterr().out
    assert f"running (pid {os.getpid()}" in out
    assert "model:       v0001" in out
    assert "1 labeled, 0 to review, 1 failed" in out
    assert "bad.png" in out
    assert main(["status", *db]) == 7
    assert "not running" in capsys.readouterr().out


def test_status_after_a_review_item_is_corrected_shows_none_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run still counts the file it sent to review; only the database says what waits."""
    make_model(tmp_path / "models" / "current.pickle", label=None)  # every file to review
    config = config_for(tmp_path)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        f"database: {config.database}\nmodel: models/current.pickle\ninbox: inbox\n"
        "labeled_dir: labeled\nreview_dir: review\nfailed_dir: failed\n"
    )
    with running(config):
        (config.inbox / "unsure.png").write_bytes(png(1))
        (row,) = wait_for_rows(config, 1)
        assert row["status"] == "review"
        assert main(["correct", str(row["id"]), "shirt", "--config", str(config_file)]) == 0
        wait_until(
            lambda: '"processed": 1' in (config.inbox.parent / "fashiond.heartbeat").read_text()
        )
        capsys.readouterr()
        assert main(["status", "--config", str(config_file)]) == 0
        out = capsys.readouterr().out
    assert "this run:    1 recorded, 0 failed, 1 sent to review" in out
    assert re.findall(r"(\d+) to review", out) == ["0"]  # one figure of what waits, and it is 0
    assert "1 file(s): 1 labeled, 0 to review" in out


def test_a_second_daemon_on_the_same_database_is_refused(config: Config) -> None:
    with running(config), pytest.raises(DaemonStateError), open_daemon(config):
        pass


def _row(source: Path, target: Path, status: str) -> dict[str, object]:
    return {
        "filename": source.name,
        "inbox_path": str(source),
        "path": str(target),
        "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "label": "Bag",
        "confidence": 0.99,
        "probabilities": None,
        "model_version": "v0001",
        "status": status,
        "error": None,
        "failed_plugin": None,
        "duplicate_of": None,
        "created_at": utcnow(),
        "processing_ms": 1.0,
        "placed": False,
    }


def test_model_file_replaced_by_copying_over_it(config: Config) -> None:
    with running(config):
        (config.inbox / "a.png").write_bytes(png(1))
        wait_for_rows(config, 1)
        replacement = load_params(make_model(config.model.parent / "other.pickle", label="Coat"))
        save_params(replacement, config.model)
        (config.inbox / "b.png").write_bytes(png(2))
        found = wait_for_rows(config, 2)
    assert [r["label"] for r in found] == ["Bag", "Coat"]


def test_a_file_put_at_the_chosen_name_before_the_move_is_not_overwritten(
    tmp_path: Path,
) -> None:
    """place() never replaces: the name was free when chosen, taken when the move came."""
    source = tmp_path / "inbox" / "shirt.png"
    source.parent.mkdir()
    source.write_bytes(png(1))
    target = tmp_path / "labeled" / "Shirt" / "shirt.png"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"the user's own file")
    with pytest.raises(FileExistsError):
        place(source, target, mode="move")
    assert target.read_bytes() == b"the user's own file"
    assert source.read_bytes() == png(1)
    place(source, target.with_name("shirt-1.png"), mode="move")
    assert target.with_name("shirt-1.png").read_bytes() == png(1)
    assert not source.exists()
