"""history, show, stats and export against a database of known rows."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.db.database import open_database
from daemon.db.schema import Correction, Prediction, PredictionRevision, utcnow
from daemon.prediction_records import FIELDS, Column, render_table, truncate
from nnet.model import CLASS_NAMES

NOW = utcnow()
# (filename, label, confidence, model_version, status, created_at)
ROWS = [
    ("shirt_a.png", "Shirt", 0.95, "v0001", "labeled", datetime(2026, 1, 1, 10)),
    ("shirt_b.png", "Shirt", 0.40, "v0001", "review", datetime(2026, 1, 2, 10)),
    ("bag.png", "Bag", 0.80, "v0002", "labeled", datetime(2026, 1, 3, 10)),
    ("boot.JPG", "Ankle boot", 0.99, "v0002", "labeled", datetime(2026, 1, 4, 10)),
    ("broken.png", None, None, "v0002", "failed", datetime(2026, 1, 5, 10)),
    ("T-shirt 1.png", "T-shirt/top", 0.60, "v0002", "labeled", NOW - timedelta(hours=1)),
    ("dup.png", "Bag", 0.80, "v0002", "duplicate", NOW - timedelta(minutes=10)),
]


def probabilities(label: str | None, confidence: float | None) -> list[float] | None:
    if label is None or confidence is None:
        return None
    rest = (1 - confidence) / (len(CLASS_NAMES) - 1)
    return [confidence if name == label else rest for name in CLASS_NAMES]


@pytest.fixture
def known(tmp_path: Path) -> dict[str, str]:
    """A database holding ROWS (ids 1..7), a correction of 2 and a revision of 3."""
    url = f"sqlite:///{tmp_path / 'fashiond.db'}"
    db = open_database(url, create=True)
    with db.sessions.begin() as session:
        for filename, label, confidence, version, status, created in ROWS:
            session.add(
                Prediction(
                    filename=filename,
                    path=str(tmp_path / "labeled" / (label or "failed") / filename),
                    sha256=f"{len(filename):064x}",
                    label=label,
                    confidence=confidence,
                    probabilities=probabilities(label, confidence),
                    model_version=version,
                    status=status,
                    error="open: cannot identify image file" if status == "failed" else None,
                    created_at=created,
                )
            )
        session.flush()
        session.get(Prediction, 2).corrected_label = "T-shirt/top"
        session.add(Correction(prediction_id=2, previous_label="Shirt", label="T-shirt/top"))
        session.add(Correction(prediction_id=3, previous_label="Bag", label="Bag"))
        session.get(Prediction, 3).corrected_label = "Bag"
        session.add(
            PredictionRevision(
                prediction_id=3,
                label="Coat",
                confidence=0.5,
                probabilities=probabilities("Coat", 0.5),
                model_version="v0001",
                status="labeled",
                created_at=datetime(2026, 1, 3, 10),
                superseded_at=datetime(2026, 1, 3, 12),
            )
        )
    db.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {url}\nmodel: models/none.pickle\n")
    return {"url": url, "config": str(config)}


def run_json(capsys: pytest.CaptureFixture[str], known: dict[str, str], *args: str) -> object:
    status = main([args[0], "--config", known["config"], *args[1:], "--format", "json"])
    out = capsys.readouterr().out
    assert status == 0, out
    return json.loads(out)


def ids(capsys: pytest.CaptureFixture[str], known: dict[str, str], *filters: str) -> list[int]:
    return [r["id"] for r in run_json(capsys, known, "history", *filters)]


# --- filters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((), [7, 6, 5, 4, 3, 2, 1]),
        (("--label", "shirt"), [2, 1]),
        (("--label", "SHIRT"), [2, 1]),
        (("--label", "6"), [2, 1]),
        (("--label", "ankle boot"), [4]),
        (("--label", "t-shirt/top"), [6]),
        (("--status", "review"), [2]),
        (("--status", "Failed"), [5]),
        (("--since", "2026-01-03"), [7, 6, 5, 4, 3]),
        (("--until", "2026-01-02"), [2, 1]),
        (("--since", "2026-01-02T12:00", "--until", "2026-01-04T10:00"), [3]),
        (("--since", "2026-01-02T11:00+01:00", "--until", "2026-01-03"), [3, 2]),
        (("--since", "2h"), [7, 6]),
        (("--since", "30m"), [7]),
        (("--until", "30m"), [6, 5, 4, 3, 2, 1]),
        (("--since", "7d"), [7, 6]),
        (("--min-confidence", "0.8"), [7, 4, 3, 1]),
        (("--max-confidence", "0.6"), [6, 2]),
        (("--min-confidence", "0.5", "--max-confidence", "0.9"), [7, 6, 3]),
        (("--model", "v0001"), [2, 1]),
        (("--name", "shirt_*"), [2, 1]),
        (("--name", "*.JPG"), [4]),
        (("--name", "?ag.png"), [3]),
        (("--label", "bag", "--status", "labeled", "--model", "v0002"), [3]),
        (("--limit", "2"), [7, 6]),
        (("--limit", "0"), [7, 6, 5, 4, 3, 2, 1]),
        (("--sort", "id"), [1, 2, 3, 4, 5, 6, 7]),
        (("--sort", "confidence:desc", "--limit", "3"), [4, 1, 7]),
        (("--sort=-confidence", "--limit", "3"), [4, 1, 7]),
        (("--sort", "label:asc", "--limit", "2"), [5, 4]),
        (("--sort", "filename", "--limit", "2"), [6, 3]),
        (("--sort", "created_at", "--label", "shirt"), [1, 2]),
    ],
)
def test_filters(
    capsys: pytest.CaptureFixture[str], known: dict[str, str], filters: tuple[str, ...], expected
) -> None:
    assert ids(capsys, known, *filters) == expected


def test_json_has_the_stable_fields_and_the_corrected_label(
    capsys: pytest.CaptureFixture[str], known: dict[str, str]
) -> None:
    rows = run_json(capsys, known, "history", "--sort", "id")
    assert [list(r) for r in rows] == [list(FIELDS)] * len(ROWS)
    first, second = rows[0], rows[1]
    assert first["filename"] == "shirt_a.png"
    assert first["probabilities"][CLASS_NAMES.index("Shirt")] == pytest.approx(0.95)
    assert first["created_at"] == "2026-01-01T10:00:00.000Z"
    assert (second["label"], second["corrected_label"]) == ("Shirt", "T-shirt/top")
    assert rows[4]["error"].startswith("open:") and rows[4]["confidence"] is None


def test_all_versions_adds_superseded_predictions_after_their_item(
    capsys: pytest.CaptureFixture[str], known: dict[str, str]
) -> None:
    rows = run_json(
        capsys, known, "history", "--label", "bag", "--status", "labeled", "--all-versions"
    )
    assert [(r["id"], r["label"], r["model_version"]) for r in rows] == [
        (3, "Bag", "v0002"),
        (3, "Coat", "v0001"),
    ]
    assert rows[0]["superseded_at"] is None
    assert rows[1]["superseded_at"] == "2026-01-03T12:00:00.000Z"


def test_csv_parses_back(capsys: pytest.CaptureFixture[str], known: dict[str, str]) -> None:
    assert main(["history", "--config", known["config"], "--format", "csv", "--sort", "id"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["id"]) for r in rows] == list(range(1, len(ROWS) + 1))
    assert tuple(rows[0]) == FIELDS
    assert json.loads(rows[0]["probabilities"])[6] == pytest.approx(0.95)
    assert rows[4]["confidence"] == "" and rows[4]["label"] == ""
    assert rows[1]["corrected_label"] == "T-shirt/top"


def test_table_fits_the_terminal_and_shows_corrections(
    capsys: pytest.CaptureFixture[str], known: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["history", "--config", known["config"], "--sort", "id"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["id", "created", "(UTC)", "file"]
    assert "corrected" in lines[0]
    assert all(len(line) <= 100 for line in lines)
    assert "T-shirt/top" in lines[2] and "shirt_b.png" in lines[2]


def test_table_truncates_long_names_and_drops_columns_when_narrow() -> None:
    record = {"id": 1, "filename": "a-very-long-file-name-" * 5 + ".png", "label": "Bag"}
    columns = (
        Column("id", "id", 5, right=True),
        Column("file", "filename", 200, flexible=True),
        Column("label", "label", 11),
        Column("model", "model_version", 30, drop=1),
    )
    wide = list(render_table([record], columns, width=80))
    assert max(map(len, wide)) <= 80 and "model" in wide[0] and "…" in wide[1]
    narrow = list(render_table([record], columns, width=26))
    assert "model" not in narrow[0] and max(map(len, narrow)) <= 26
    assert truncate("abcdefghij.png", 10).endswith("png") and len(truncate("x" * 50, 10)) == 10


def test_empty_result_prints_headers_and_a_note(
    capsys: pytest.CaptureFixture[str], known: dict[str, str]
) -> None:
    assert main(["history", "--config", known["config"], "--name", "nothing*"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("id") and "no predictions match" in captured.err
    assert ids(capsys, known, "--name", "nothing*") == []


# --- show ------------------------------------------------------------------------------


def test_show_json_has_every_field_top3_revisions_and_corrections(
    capsys: pytest.CaptureFixture[str], known: dict[str, str]
) -> None:
    details = run_json(capsys, known, "show", "3")
    for column in Prediction.__table__.columns:
        assert column.name in details
    assert details["top"][0]["label"] == "Bag"
    assert len(details["top"]) == 3
    assert details["revisions"][0]["label"] == "Coat"
    assert details["corrections"][0]["label"] == "Bag"


def test_show_text(capsys: pytest.CaptureFixture[str], known: dict[str, str]) -> None:
    assert main(["show", "2", "--config", known["config"]]) == 0
    out = capsys.readouterr().out
    assert "shirt_b.png" in out and "top 3:" in out and "Shirt" in out
    assert "corrections:" in out and "Shirt -> T-shirt/top" in out
    assert main(["show", "5", "--config", known["config"]]) == 0
    assert "no prediction" in capsys.readouterr().out


# --- stats -----------------------------------------------------------------------------


def test_stats_json(capsys: pytest.CaptureFixture[str], known: dict[str, str]) -> None:
    stats = run_json(capsys, known, "stats", "--days", "0")
    assert stats["total"] == len(ROWS)
    assert stats["by_label"] == {
        "Shirt": 2,
        "Bag": 2,
        "Ankle boot": 1,
        "T-shirt/top": 1,
        "(none)": 1,
    }
    assert stats["by_status"] == {"labeled": 4, "review": 1, "failed": 1, "duplicate": 1}
    histogram = stats["confidence_histogram"]
    assert histogram["0.9-1.0"] == 2 and histogram["0.8-0.9"] == 2 and histogram["0.4-0.5"] == 1
    assert sum(histogram.values()) == 6
    assert stats["per_day"].get("2026-01-01") == 1, stats["per_day"]
    assert sum(stats["per_day"].values()) == len(ROWS)
    versions = {v["version"]: v for v in stats["versions"]}
    assert versions["v0001"]["predictions"] == 2 and versions["v0002"]["predictions"] == 5
    # v0001: item 2 said Shirt (corrected to T-shirt/top) and, superseded, item 3 said Coat.
    assert (versions["v0001"]["judged"], versions["v0001"]["agreed"]) == (2, 0)
    assert (versions["v0002"]["judged"], versions["v0002"]["agreed"]) == (1, 1)
    assert stats["corrections"] == 2
    assert stats["deployed"]["version"] is None  # no model file in this config


def test_stats_filters_and_text(capsys: pytest.CaptureFixture[str], known: dict[str, str]) -> None:
    bags = run_json(capsys, known, "stats", "--label", "bag")
    assert bags["total"] == 2 and bags["by_label"] == {"Bag": 2}
    assert bags["by_status"] == {"labeled": 1, "duplicate": 1}
    assert bags["confidence_histogram"]["0.8-0.9"] == 2
    # v0001 made none of the current Bag predictions, but its superseded one for item 3 was judged
    assert [(v["version"], v["predictions"], v["judged"]) for v in bags["versions"]] == [
        ("v0001", 0, 1),
        ("v0002", 2, 1),
    ]
    early = run_json(capsys, known, "stats", "--until", "2026-01-03", "--days", "0")
    assert early["total"] == 3 and early["by_status"] == {"labeled": 2, "review": 1}
    versions = {v["version"]: v for v in early["versions"]}
    assert versions["v0001"]["first_at"].startswith("2026-01-01")
    assert versions["v0001"]["last_at"].startswith("2026-01-02")
    assert versions["v0002"]["predictions"] == 1
    assert sum(early["confidence_histogram"].values()) == 3
    assert main(["stats", "--config", known["config"]]) == 0
    out = capsys.readouterr().out
    assert "by label:" in out and "model versions:" in out and "deployed model:" in out


def test_stats_plot_writes_a_png(known: dict[str, str], tmp_path: Path) -> None:
    png = tmp_path / "stats.png"
    assert main(["stats", "--config", known["config"], "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        main(["stats", "--config", known["config"], "--plot", str(tmp_path / "x" / "s.png")]) == 2
    )


# --- export ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_export_formats_parse_back(
    known: dict[str, str], tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / f"out.{fmt}"
    assert main(["export", "--config", known["config"], "--label", "shirt", str(target)]) == 0
    assert "exported 2" in capsys.readouterr().err
    text = target.read_text()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    elif fmt == "json":
        rows = json.loads(text)
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    assert [int(r["id"]) for r in rows] == [2, 1]
    assert all(set(FIELDS) <= set(r) for r in rows)
    assert not list(tmp_path.glob(".out.*"))  # no temporary file left


def test_export_streams_past_the_fetch_batch(known: dict[str, str], tmp_path: Path) -> None:
    db = open_database(known["url"])
    with db.sessions.begin() as session:
        session.add_all(
            Prediction(filename=f"f{i}.png", path=f"p{i}", sha256="0" * 64, status="labeled")
            for i in range(4500)
        )
    db.dispose()
    target = tmp_path / "all.jsonl"
    assert main(["export", "--config", known["config"], "--format", "jsonl", str(target)]) == 0
    lines = target.read_text().splitlines()
    assert len(lines) == 4500 + len(ROWS)
    assert len({json.loads(line)["id"] for line in lines}) == len(lines)


def test_a_failed_export_keeps_the_old_file(known: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    assert main(["export", "--config", known["config"], "--label", "nope", str(target)]) == 2
    assert target.read_text() == "old"
    assert main(["export", "--config", known["config"], str(tmp_path / "out.txt")]) == 2
    assert not (tmp_path / "out.txt").exists()
    assert main(["export", "--config", known["config"], str(tmp_path / "no" / "out.csv")]) == 2
    (tmp_path / "folder.csv").mkdir()
    assert main(["export", "--config", known["config"], str(tmp_path / "folder.csv")]) == 2
    assert not list(tmp_path.glob(".*.part"))


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "--label", "shrt"], 'did you mean "Shirt"'),
        (["history", "--label", "ankel boot"], 'did you mean "Ankle boot"'),
        (["history", "--label", "12"], "unknown label index 12"),
        (["history", "--status", "labelled"], 'did you mean "labeled"'),
        (["history", "--since", "yesterday"], "--since"),
        (["history", "--until", "2026-13-01"], "--until"),
        (["history", "--since", "2026-01-05", "--until", "2026-01-01"], "not before"),
        (["history", "--min-confidence", "1.5"], "outside [0, 1]"),
        (["history", "--max-confidence", "-0.1"], "outside [0, 1]"),
        (["history", "--max-confidence", "nan"], "outside [0, 1]"),
        (["history", "--min-confidence", "high"], "not a number"),
        (["history", "--min-confidence", "0.9", "--max-confidence", "0.1"], "above"),
        (["history", "--sort", "confidance"], 'did you mean "confidence"'),
        (["history", "--sort", "confidence:up"], "FIELD:desc"),
        (["history", "--limit", "-1"], "negative"),
        (["history", "--limit", "ten"], "whole number"),
        (["show", "99"], "no prediction with id 99"),
        (["show", "abc"], "invalid int"),
        (["stats", "--since", "3x"], "--since"),
        (["corrections", "--label", "hat"], 'unknown label "hat"'),
    ],
)
def test_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], known: dict[str, str], argv: list[str], message: str
) -> None:
    assert main([argv[0], "--config", known["config"], *argv[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=60
    )


def test_errors_through_the_real_cli(known: dict[str, str], tmp_path: Path) -> None:
    for argv in (
        ["history", "--db", known["url"], "--label", "tshirt"],
        ["show", "--db", known["url"], "12345"],
    ):
        result = run_cli(*argv)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    result = run_cli("history", "--db", missing)
    assert result.returncode == 5
    assert missing in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_a_corrected_failure_does_not_count_against_the_model(
    capsys: pytest.CaptureFixture[str], known: dict[str, str]
) -> None:
    db = open_database(known["url"])
    with db.sessions.begin() as session:
        session.get(Prediction, 5).corrected_label = "Coat"
        session.add(Correction(prediction_id=5, previous_label=None, label="Coat"))
    db.dispose()
    stats = run_json(capsys, known, "stats")
    v0002 = next(v for v in stats["versions"] if v["version"] == "v0002")
    assert (v0002["judged"], v0002["agreed"]) == (1, 1)
    assert stats["corrections"] == 3


def test_reads_work_while_a_writer_holds_a_transaction(
    capsys: pytest.CaptureFixture[str], known: dict[str, str], tmp_path: Path
) -> None:
    """As while the daemon is mid-batch: WAL lets readers see the last commit."""
    writer = sqlite3.connect(tmp_path / "fashiond.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO predictions (filename, path, sha256, status, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            ("late.png", "inbox/late.png", "f" * 64, "labeled", "2026-01-09 00:00:00.000000"),
        )
        assert ids(capsys, known, "--limit", "0") == [7, 6, 5, 4, 3, 2, 1]
        assert run_json(capsys, known, "stats")["total"] == len(ROWS)
        export = tmp_path / "during.jsonl"
        assert main(["export", "--config", known["config"], str(export)]) == 0
        assert len(export.read_text().splitlines()) == len(ROWS)
    finally:
        writer.execute("ROLLBACK")
        writer.close()


@pytest.mark.parametrize("command", ["history", "stats", "corrections", "export"])
def test_a_file_that_is_not_a_database_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    garbage = tmp_path / "notes.db"
    garbage.write_text("not a database, just notes\n" * 100)
    url = f"sqlite:///{garbage}"
    extra = [str(tmp_path / "out.csv")] if command == "export" else []
    assert main([command, "--db", url, *extra]) == 5
    err = capsys.readouterr().err
    assert err.startswith("error: ") and url in err and err.count("\n") == 1
