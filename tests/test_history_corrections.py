"""correct, corrections and reprocess on real PNG files, a real model file and SQLite."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from daemon.cli import main
from daemon.db.database import open_database
from daemon.db.schema import Correction, Prediction, PredictionRevision
from nnet.architectures import build_network
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.params_file import save_params

SPEC = {"input_shape": [784], "layers": [{"type": "Dense", "n_inputs": 784, "n_outputs": 10}]}


def save_model_that_says(label: str, path: Path) -> None:
    """A one-layer model whose answer is `label` for every image (bias only)."""
    network = build_network(SPEC, seed=0)
    state = network.state()
    weights = {k: np.zeros_like(v) for k, v in state.items()}
    bias = next(k for k in weights if weights[k].ndim == 1 or weights[k].shape[0] == 1)
    weights[bias].reshape(-1)[CLASS_NAMES.index(label)] = 5.0
    network.load_state(weights)
    metadata = TrainingMetadata(
        arch="test", epochs=0, batch_size=1, seed=0, test_accuracy=None,
        created_at="2026-01-01T00:00:00Z", data_fingerprint="none",
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    save_params(TrainedModel(network, CLASS_NAMES, InputFormat(), metadata), path)


def write_png(path: Path, *, seed: int) -> Path:
    """A light garment-ish blob on a dark background, 40x30 so the chain resizes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = np.zeros((40, 30), dtype=np.uint8)
    pixels[5:35, 6:24] = rng.integers(120, 255, size=(30, 18), dtype=np.uint8)
    Image.fromarray(pixels, mode="L").save(path)
    return path


def write_config(root: Path) -> tuple[str, Path]:
    """A config with its database and folders in `root`: (database URL, config file)."""
    url = f"sqlite:///{root / 'fashiond.db'}"
    config = root / "config.yaml"
    config.write_text(
        f"database: {url}\nmodel: models/current.pickle\n"
        "labeled_dir: labeled\nreview_dir: review\nfailed_dir: failed\n"
    )
    return url, config


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path | str]:
    """Config, database and three items: two with files (in review/ and labeled/), one gone."""
    url, config = write_config(tmp_path)
    files = [
        write_png(tmp_path / "review" / "Shirt" / "top.png", seed=1),
        write_png(tmp_path / "labeled" / "Coat" / "coat.png", seed=2),
        tmp_path / "labeled" / "Coat" / "gone.png",
    ]
    db = open_database(url, create=True)
    with db.sessions.begin() as session:
        for path, (label, status) in zip(
            files, [("Shirt", "review"), ("Coat", "labeled"), ("Coat", "labeled")], strict=True
        ):
            probs = [0.01] * 10
            probs[CLASS_NAMES.index(label)] = 0.91
            session.add(
                Prediction(
                    filename=path.name,
                    path=str(path),
                    sha256="0" * 64,
                    label=label,
                    confidence=0.91,
                    probabilities=probs,
                    model_version="v0000",
                    status=status,
                    created_at=datetime(2026, 1, 1, 12),
                )
            )
    db.dispose()
    return {"url": url, "config": str(config), "root": tmp_path}


def rows(place: dict, model: type, *where: object) -> list:
    db = open_database(str(place["url"]))
    try:
        with db.sessions.begin() as session:
            return list(session.scalars(select(model).where(*where)))
    finally:
        db.dispose()


def cli(place: dict, *argv: str) -> int:
    return main([argv[0], "--config", str(place["config"]), *argv[1:]])


# --- correct ---------------------------------------------------------------------------


def test_correct_moves_the_file_stores_pixels_and_keeps_the_prediction(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    root: Path = place["root"]
    original = (root / "review" / "Shirt" / "top.png").read_bytes()
    assert cli(place, "correct", "1", "t-shirt/top") == 0
    out = capsys.readouterr().out
    assert "Shirt -> T-shirt/top" in out
    target = root / "labeled" / "T-shirt_top" / "top.png"
    assert target.read_bytes() == original
    assert not (root / "review" / "Shirt" / "top.png").exists()
    (prediction,) = rows(place, Prediction, Prediction.id == 1)
    assert (prediction.label, prediction.corrected_label) == ("Shirt", "T-shirt/top")
    assert prediction.path == str(target) and prediction.confidence == pytest.approx(0.91)
    (correction,) = rows(place, Correction)
    assert (correction.previous_label, correction.label) == ("Shirt", "T-shirt/top")
    assert (correction.height, correction.width) == (28, 28)
    pixels = np.frombuffer(correction.pixels, dtype=np.uint8).reshape(28, 28)
    assert pixels.max() > 100 and pixels[0, 0] < 50  # a light garment on a dark background

    assert cli(place, "correct", "1", "0") == 0  # the same again: nothing new
    assert "already corrected" in capsys.readouterr().out
    assert len(rows(place, Correction)) == 1 and target.exists()


def test_correct_again_records_both_and_never_overwrites(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    root: Path = place["root"]
    squatter = write_png(root / "labeled" / "Bag" / "coat.png", seed=9)
    before = squatter.read_bytes()
    assert cli(place, "correct", "2", "bag") == 0
    assert squatter.read_bytes() == before
    assert (root / "labeled" / "Bag" / "coat-1.png").exists()
    assert cli(place, "correct", "2", "Dress") == 0
    assert (root / "labeled" / "Dress" / "coat-1.png").exists()
    corrections = rows(place, Correction, Correction.prediction_id == 2)
    assert [(c.previous_label, c.label) for c in corrections] == [("Coat", "Bag"), ("Bag", "Dress")]
    capsys.readouterr()


def test_correct_a_gone_file_stores_no_pixels_and_warns(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(place, "correct", "3", "Sandal") == 0
    assert "warning:" in capsys.readouterr().err
    (correction,) = rows(place, Correction)
    assert correction.pixels is None and correction.label == "Sandal"
    (prediction,) = rows(place, Prediction, Prediction.id == 3)
    assert prediction.corrected_label == "Sandal" and prediction.path.endswith("gone.png")


def crash_after_commit(place: dict) -> tuple[Path, Path]:
    """The state a `correct 2 Bag` killed right after its commit leaves."""
    root: Path = place["root"]
    source = root / "labeled" / "Coat" / "coat.png"
    target = root / "labeled" / "Bag" / "coat.png"
    db = open_database(str(place["url"]))
    with db.sessions.begin() as session:
        session.add(
            Correction(
                prediction_id=2, previous_label="Coat", label="Bag",
                moved_from=str(source), moved_to=str(target),
            )
        )  # fmt: skip
        prediction = session.get(Prediction, 2)
        prediction.corrected_label, prediction.path = "Bag", str(target)
    db.dispose()
    return source, target


def test_correct_after_a_crash_between_commit_and_move_finishes_the_move(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = crash_after_commit(place)
    assert cli(place, "correct", "2", "Bag") == 0
    assert "finished moving" in capsys.readouterr().out
    assert target.exists() and not source.exists()
    assert len(rows(place, Correction)) == 1


def test_a_new_label_after_a_crash_finishes_the_old_move_then_corrects(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = crash_after_commit(place)
    assert cli(place, "correct", "2", "Dress") == 0
    assert "Bag -> Dress" in capsys.readouterr().out
    dress = Path(place["root"]) / "labeled" / "Dress" / "coat.png"
    assert dress.exists() and not source.exists() and not target.exists()
    corrections = rows(place, Correction, Correction.prediction_id == 2)
    assert [(c.previous_label, c.label) for c in corrections] == [("Coat", "Bag"), ("Bag", "Dress")]
    assert corrections[1].pixels is not None


def test_correct_errors(place: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(place, "correct", "99", "Bag") == 2
    assert "no prediction with id 99" in capsys.readouterr().err
    assert cli(place, "correct", "1", "hat") == 2
    assert "unknown label" in capsys.readouterr().err
    assert rows(place, Correction) == []


def test_corrections_lists_them(place: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(place, "correct", "1", "Pullover") == 0
    assert cli(place, "correct", "2", "Bag") == 0
    capsys.readouterr()
    assert cli(place, "corrections", "--format", "json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["prediction_id"], c["previous_label"], c["label"]) for c in listed] == [
        (2, "Coat", "Bag"),
        (1, "Shirt", "Pullover"),
    ]
    assert listed[0]["pixels"] == "28x28"
    assert cli(place, "corrections", "--label", "pullover", "--format", "csv") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("id,prediction_id")
    assert cli(place, "corrections", "--since", "1h") == 0
    assert "Pullover" in capsys.readouterr().out
    assert cli(place, "corrections", "--until", "2000-01-01") == 0
    assert "no corrections match" in capsys.readouterr().err


# --- reprocess -------------------------------------------------------------------------


def test_reprocess_relabels_and_keeps_every_version(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    save_model_that_says("Bag", Path(place["root"]) / "models" / "current.pickle")
    assert cli(place, "reprocess") == 0
    out = capsys.readouterr()
    assert "reprocessed 2 of 3" in out.out and "1 files missing" in out.out
    assert "gone.png" in out.err
    first, second, gone = rows(place, Prediction)
    assert (first.label, first.model_version, first.status) == ("Bag", "v0001", "labeled")
    assert first.confidence == pytest.approx(np.exp(5) / (np.exp(5) + 9), rel=1e-4)
    assert first.probabilities[CLASS_NAMES.index("Bag")] == pytest.approx(first.confidence)
    assert second.label == "Bag" and (gone.label, gone.model_version) == ("Coat", "v0000")
    revisions = rows(place, PredictionRevision)
    assert [(r.prediction_id, r.label, r.model_version) for r in revisions] == [
        (1, "Shirt", "v0000"),
        (2, "Coat", "v0000"),
    ]
    assert revisions[0].created_at == datetime(2026, 1, 1, 12)

    assert cli(place, "reprocess") == 0  # again: the deployed version already did these
    assert "reprocessed 0 of 1" in capsys.readouterr().out
    assert len(rows(place, PredictionRevision)) == 2

    save_model_that_says("Sneaker", Path(place["root"]) / "models" / "current.pickle")
    assert cli(place, "reprocess", "--label", "bag", "--batch-size", "1") == 0
    assert "with v0002 (2 changed label)" in capsys.readouterr().out
    assert cli(place, "history", "--all-versions", "--sort", "id", "--format", "json") == 0
    history = json.loads(capsys.readouterr().out)
    assert [(h["id"], h["label"], h["model_version"]) for h in history[:3]] == [
        (1, "Sneaker", "v0002"),
        (1, "Bag", "v0001"),
        (1, "Shirt", "v0000"),
    ]
    assert cli(place, "history", "--sort", "id", "--format", "json") == 0
    assert [h["label"] for h in json.loads(capsys.readouterr().out)] == [
        "Sneaker",
        "Sneaker",
        "Coat",
    ]
    # the v0001 prediction's made-at is when the v0000 one was superseded
    db = open_database(str(place["url"]))
    with db.sessions.begin() as session:
        times = session.execute(
            select(PredictionRevision.model_version, PredictionRevision.created_at)
            .where(PredictionRevision.prediction_id == 1)
            .order_by(PredictionRevision.id)
        ).all()
        superseded = session.scalar(
            select(func.min(PredictionRevision.superseded_at)).where(
                PredictionRevision.prediction_id == 1
            )
        )
    db.dispose()
    assert times[1] == ("v0001", superseded)


def test_stats_reports_the_deployed_models_accuracy_against_corrections(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    save_model_that_says("Bag", Path(place["root"]) / "models" / "current.pickle")
    assert cli(place, "reprocess", "--quiet") == 0
    assert cli(place, "correct", "1", "Bag") == 0  # a confirmation
    assert cli(place, "correct", "2", "Coat") == 0  # the old model was right
    capsys.readouterr()
    assert cli(place, "stats", "--format", "json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["deployed"]["version"] == "v0001"
    assert stats["deployed_accuracy"] == pytest.approx(0.5)
    old = next(v for v in stats["versions"] if v["version"] == "v0000")
    assert (old["judged"], old["agreed"]) == (2, 1)
    assert cli(place, "stats") == 0
    assert "accuracy against corrections 50.0% (1 of 2" in capsys.readouterr().out
    assert cli(place, "reprocess", "--force", "--quiet") == 0  # the same version again
    capsys.readouterr()
    assert cli(place, "stats", "--format", "json") == 0
    again = json.loads(capsys.readouterr().out)
    deployed = next(v for v in again["versions"] if v["version"] == "v0001")
    assert (deployed["judged"], deployed["agreed"]) == (2, 1)  # each item counted once


def test_reprocess_without_a_model_is_a_one_line_error(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(place, "reprocess") == 4
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def mark_unplaced(place: dict, prediction_id: int) -> None:
    """As the daemon leaves a row between its commit and its move."""
    db = open_database(str(place["url"]))
    with db.sessions.begin() as session:
        session.get(Prediction, prediction_id).placed = False
    db.dispose()


def test_correct_waits_for_the_daemon_to_file_the_item(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    mark_unplaced(place, 1)
    assert cli(place, "correct", "1", "Bag") == 7
    err = capsys.readouterr().err
    assert "not finished filing" in err and err.count("\n") == 1
    assert rows(place, Correction) == []
    assert (Path(place["root"]) / "review" / "Shirt" / "top.png").exists()


def test_reprocess_skips_items_the_daemon_is_still_filing(
    place: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    save_model_that_says("Bag", Path(place["root"]) / "models" / "current.pickle")
    mark_unplaced(place, 1)
    assert cli(place, "reprocess") == 0
    assert "reprocessed 1 of 2" in capsys.readouterr().out
    assert rows(place, Prediction, Prediction.id == 1)[0].label == "Shirt"
