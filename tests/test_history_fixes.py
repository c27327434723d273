"""What a new user hit walking through the README: statuses after a correction,
failed and duplicate items, empty folders, stats' flags and formats, symlinks."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path

import pytest

from daemon.db.database import open_database
from daemon.db.schema import Prediction
from nnet.model import CLASS_NAMES
from tests.test_history_corrections import (
    cli,
    rows,
    save_model_that_says,
    write_config,
    write_png,
)


def _prediction(path: Path, label: str | None, status: str, **extra: object) -> Prediction:
    probs = None
    if label is not None and status != "duplicate":
        probs = [0.01] * 10
        probs[CLASS_NAMES.index(label)] = 0.91
    return Prediction(
        filename=path.name,
        path=str(path),
        sha256="0" * 64,
        label=label,
        confidence=0.91 if label is not None else None,
        probabilities=probs,
        model_version="v0000" if label is not None else None,
        status=status,
        created_at=datetime(2026, 1, 1, 12),
        **extra,
    )


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path | str]:
    """1: review/Shirt, 2: labeled/Coat, 3: failed, 4: a duplicate of 1."""
    url, config = write_config(tmp_path)
    review = write_png(tmp_path / "review" / "Shirt" / "top.png", seed=1)
    coat = write_png(tmp_path / "labeled" / "Coat" / "coat.png", seed=2)
    broken = tmp_path / "failed" / "broken.png"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "failed" / "broken.png.error.txt").write_text("open: truncated file\n")
    copy = write_png(tmp_path / "labeled" / "Shirt" / "top-copy.png", seed=1)
    db = open_database(url, create=True)
    with db.sessions.begin() as session:
        session.add(_prediction(review, "Shirt", "review"))
        session.add(_prediction(coat, "Coat", "labeled"))
        session.add(
            _prediction(broken, None, "failed", error="truncated file", failed_plugin="open")
        )
        session.flush()
        session.add(_prediction(copy, "Shirt", "duplicate", duplicate_of=1))
    db.dispose()
    return {"url": url, "config": str(config), "root": tmp_path}


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


# --- correct: status, refusals, folders ------------------------------------------------


def test_correcting_a_review_item_labels_it_and_drops_the_empty_folder(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    root: Path = place["root"]
    assert cli(place, "correct", "1", "t-shirt/top") == 0
    (item,) = rows(place, Prediction, Prediction.id == 1)
    assert (item.status, item.label, item.corrected_label) == ("labeled", "Shirt", "T-shirt/top")
    assert item.confidence == pytest.approx(0.91)
    assert Path(item.path) == root / "labeled" / "T-shirt_top" / "top.png"
    assert Path(item.path).is_file()
    assert not (root / "review" / "Shirt").exists()  # its only file left
    assert (root / "review").is_dir()  # the top-level folder stays
    capsys.readouterr()
    assert cli(place, "history", "--status", "review", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_confirming_a_review_items_label_files_it_under_labeled(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    root: Path = place["root"]
    assert cli(place, "correct", "1", "shirt") == 0
    assert "1: Shirt (confirmed" in capsys.readouterr().out
    (item,) = rows(place, Prediction, Prediction.id == 1)
    assert (item.status, item.corrected_label) == ("labeled", "Shirt")
    assert Path(item.path) == root / "labeled" / "Shirt" / "top.png"
    assert Path(item.path).is_file() and not (root / "review" / "Shirt").exists()


def test_correcting_a_labeled_item_keeps_it_labeled_and_keeps_a_folder_in_use(
    place: dict,
) -> None:
    root: Path = place["root"]
    write_png(root / "labeled" / "Coat" / "other.png", seed=3)
    assert cli(place, "correct", "2", "pullover") == 0
    (item,) = rows(place, Prediction, Prediction.id == 2)
    assert (item.status, item.corrected_label) == ("labeled", "Pullover")
    assert (root / "labeled" / "Coat" / "other.png").is_file()  # not empty: kept

    assert cli(place, "correct", "2", "dress") == 0  # labeled/Pullover empties now
    assert not (root / "labeled" / "Pullover").exists()
    assert (root / "labeled" / "Dress" / "coat.png").is_file()


def test_correcting_a_failed_item_is_refused_and_nothing_moves(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    root: Path = place["root"]
    assert cli(place, "correct", "3", "bag") == 2
    err = one_line_error(capsys)
    assert "failed" in err and "truncated file" in err and "no prediction" in err
    assert (root / "failed" / "broken.png").is_file()
    assert (root / "failed" / "broken.png.error.txt").is_file()
    assert not (root / "labeled" / "Bag").exists()
    (item,) = rows(place, Prediction, Prediction.id == 3)
    assert (item.status, item.corrected_label) == ("failed", None)


def test_correcting_a_duplicate_is_refused_naming_the_original(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(place, "correct", "4", "bag") == 2
    err = one_line_error(capsys)
    assert "duplicate of prediction 1" in err and "fashiond correct 1" in err
    assert (Path(place["root"]) / "labeled" / "Shirt" / "top-copy.png").is_file()


# --- duplicates in show / history / export ---------------------------------------------


def test_a_duplicate_shows_its_originals_answer(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(place, "show", "4") == 0
    out = capsys.readouterr().out
    assert "duplicate of #1" in out and "no prediction" not in out
    assert "top 3: (of #1)" in out and "Shirt" in out.split("top 3:")[1]
    assert cli(place, "show", "4", "--format", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["duplicate_of"] == 1 and shown["top"][0]["label"] == "Shirt"

    assert cli(place, "history", "--format", "json", "--sort", "id") == 0
    records = json.loads(capsys.readouterr().out)
    assert records[3]["duplicate_of"] == 1
    assert records[3]["probabilities"] == records[0]["probabilities"]
    assert records[2]["probabilities"] is None  # failed: still nothing
    assert cli(place, "history", "--sort", "id") == 0
    assert "dup of 1" in capsys.readouterr().out

    out_file = Path(place["root"]) / "all.csv"
    assert cli(place, "export", "--quiet", str(out_file)) == 0
    header = out_file.read_text().splitlines()[0]
    assert header.endswith(",corrected_label,duplicate_of")


# --- stats -----------------------------------------------------------------------------


def test_stats_rejects_negative_days(place: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(place, "stats", "--days", "-3") == 2
    assert "--days -3" in one_line_error(capsys)


def test_stats_spells_no_label_and_times_like_everything_else(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(place, "stats") == 0
    text = capsys.readouterr().out
    assert "(none)" in text and "(no label)" not in text
    assert cli(place, "stats", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert "(none)" in data["by_label"]
    (version,) = [v for v in data["versions"] if v["version"] == "v0000"]
    assert version["first_at"] == "2026-01-01T12:00:00.000Z" == version["last_at"]
    assert cli(place, "stats", "--status", "labeled", "--format", "json") == 0  # filtered path
    (version,) = json.loads(capsys.readouterr().out)["versions"]
    assert version["first_at"] == "2026-01-01T12:00:00.000Z"


def test_stats_plot_is_readable_by_others_like_exports(place: dict) -> None:
    plot = Path(place["root"]) / "stats.png"
    old = os.umask(0o022)
    try:
        assert cli(place, "stats", "--plot", str(plot)) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(plot.stat().st_mode) == 0o644
    assert plot.read_bytes().startswith(b"\x89PNG")


# --- reprocess, help --------------------------------------------------------------------


def test_reprocess_says_plainly_that_it_does_not_follow_a_symlink(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    root: Path = place["root"]
    target = root / "labeled" / "Coat" / "coat.png"
    moved = root / "elsewhere.png"
    target.rename(moved)
    target.symlink_to(moved)
    save_model_that_says("Bag", root / "models" / "current.pickle")
    assert cli(place, "reprocess", "--quiet", "--status", "labeled") == 0
    out = capsys.readouterr()
    assert "1 could not be preprocessed" in out.out
    assert "is a symbolic link; not followed" in out.err and "Errno" not in out.err


def test_since_and_until_help_reads_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    from daemon.cli import main

    with pytest.raises(SystemExit):
        main(["history", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "only items before T" in out and "a bare date includes that whole day" in out
