"""`fashiond train` and `fashiond evaluate` end to end, as a user runs them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.progress import ProgressBar
from nnet.history import EpochRecord
from nnet.params_file import load_params
from tests.conftest import REPO
from tests.idx_files import real_subset


def fashiond(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "daemon", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=cwd,
        env=env,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], status: int) -> None:
    assert result.returncode == status, result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 real training images and 1,000 test images: a real but quick run."""
    from tests.conftest import DEBIAN_DATA

    folder = tmp_path_factory.mktemp("fmnist") / "small"
    return real_subset(DEBIAN_DATA, folder, n_train=3000, n_test=1000)


@pytest.mark.real_data
def test_train_then_evaluate(small_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.pickle"
    trained = fashiond("train", "--data", small_data, "--epochs", "2", "--out", out, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.startswith("test accuracy: ")
    assert "epoch 2/2: loss" in trained.stderr  # the summary line, also when not a terminal
    model = load_params(out)
    meta = model.metadata
    assert (meta.arch, meta.epochs, meta.seed) == ("mlp", 2, 0)
    assert meta.test_accuracy is not None and meta.test_accuracy > 0.7
    assert f"{meta.test_accuracy:.2%}" in trained.stdout

    plot = tmp_path / "plots" / "confusion.png"
    evaluated = fashiond(
        "evaluate", "--model", out, "--data", small_data, "--plot", plot, cwd=tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr
    text = evaluated.stdout
    assert f"test accuracy: {meta.test_accuracy:.2%} (1000 images)" in text
    assert "per-class accuracy:" in text and "Ankle boot" in text
    assert "confusion matrix" in text
    assert plot.read_bytes().startswith(b"\x89PNG")

    as_json = fashiond("evaluate", "--model", out, "--data", small_data, "--json", cwd=tmp_path)
    report = json.loads(as_json.stdout)
    assert report["test_accuracy"] == pytest.approx(meta.test_accuracy)
    assert sum(map(sum, report["confusion_matrix"])) == 1000
    assert len(report["per_class_accuracy"]) == 10


@pytest.mark.real_data
def test_config_supplies_the_defaults_and_if_missing_skips(
    small_data: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"model: models/m.pickle\ndata: {small_data}\n"
        "train:\n  epochs: 1\n  batch_size: 64\n  seed: 2\n"
    )
    first = fashiond("train", "--config", config, "--quiet", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    out = tmp_path / "models" / "m.pickle"
    meta = load_params(out).metadata
    assert (meta.epochs, meta.batch_size, meta.seed) == (1, 64, 2)

    before = out.stat().st_mtime_ns
    again = fashiond("train", "--config", config, "--if-missing", cwd=tmp_path)
    assert again.returncode == 0
    assert "exists; not training" in again.stdout
    assert out.stat().st_mtime_ns == before


def test_missing_data_is_exit_3(tmp_path: Path) -> None:
    result = fashiond("train", "--data", tmp_path / "nowhere", "--out", "m.pickle", cwd=tmp_path)
    assert_one_line_error(result, 3)
    assert "dataset-fashion-mnist" in result.stderr
    assert not (tmp_path / "m.pickle").exists()


def test_bad_or_missing_model_is_exit_4(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pickle"
    bad.write_bytes(b"not a pickle at all")
    assert_one_line_error(fashiond("evaluate", "--model", bad, cwd=tmp_path), 4)
    missing = fashiond("evaluate", "--model", tmp_path / "none.pickle", cwd=tmp_path)
    assert_one_line_error(missing, 4)
    assert "fashiond train" in missing.stderr


def test_bad_flags_are_exit_2(tmp_path: Path) -> None:
    assert_one_line_error(fashiond("train", "--epochs", "0", cwd=tmp_path), 2)
    assert_one_line_error(fashiond("train", "--arch", "transformer", cwd=tmp_path), 2)
    assert_one_line_error(fashiond("train", "--seed", "-1", cwd=tmp_path), 2)


# --- the progress bar ------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(epoch: int) -> EpochRecord:
    return EpochRecord(
        epoch=epoch, loss=0.5, accuracy=0.8, val_loss=0.6, val_accuracy=0.75, seconds=1.0
    )


def run_two_epochs(progress: ProgressBar) -> None:
    for epoch in (1, 2):
        progress.epoch_started(epoch, 2, 3)
        for _ in range(3):
            progress.batch_finished(0.5, 0.8)
        progress.epoch_finished(record(epoch))


def test_progress_bar_on_a_terminal_shows_batches_and_a_summary_per_epoch() -> None:
    stream = Terminal()
    run_two_epochs(ProgressBar(stream=stream))
    shown = stream.getvalue()
    assert "epoch 1/2" in shown and "batch" in shown
    assert "epoch 2/2: loss 0.5000, accuracy 80.00%, test accuracy 75.00% (1.0 s)" in shown


def test_progress_bar_quiet_prints_nothing() -> None:
    stream = Terminal()
    run_two_epochs(ProgressBar(quiet=True, stream=stream))
    assert stream.getvalue() == ""
