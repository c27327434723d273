"""Real retrain runs on subsets of the real Fashion-MNIST, through real processes.

Each run trains one epoch on a few thousand images (the hidden `--limit`), so
a run takes seconds; the kill and stop tests use a larger subset so that the
run is still going when they strike.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from daemon.config import load_config
from daemon.db.database import Database, open_database
from daemon.db.schema import Correction, ModelVersion, Prediction
from daemon.retrain_scheduler import RetrainScheduler
from daemon.retraining import LOCK_NAME, running_pid
from nnet.architectures import get_architecture
from nnet.data import load_fashion_mnist
from nnet.model import CLASS_NAMES
from nnet.params_file import load_params, save_params
from nnet.training import train_model

from .conftest import DEBIAN_DATA

pytestmark = pytest.mark.real_data

QUICK = "2000"  # images per split for a run that should finish
LONG = "30000"  # ... and for one that is still running when it is killed
DEADLINE = 90.0


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """What `fashiond train` would leave, trained so briefly that any retrain clearly beats it."""
    data = load_fashion_mnist(DEBIAN_DATA)
    model, _ = train_model(
        get_architecture("mlp"),
        train_images=data.train_images[:500],
        train_labels=data.train_labels[:500],
        test_images=data.test_images[:500],
        test_labels=data.test_labels[:500],
        epochs=1,
    )
    path = tmp_path_factory.mktemp("base") / "model.pickle"
    save_params(model, path)
    return path.read_bytes()


@pytest.fixture
def home(tmp_path: Path, base_model: bytes, fashion_mnist_dir: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "current.pickle").write_bytes(base_model)
    write_config(tmp_path, data=fashion_mnist_dir)
    return tmp_path


@pytest.fixture
def db(home: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{home}/fashiond.db", create=True)
    yield database
    database.dispose()


def write_config(home: Path, *, data: Path, **retrain: object) -> Path:
    settings = {"epochs": 1, **retrain}
    lines = [f"data: {data}", "workers: 1", "retrain:"] + [
        f"  {k}: {json.dumps(v)}" for k, v in settings.items()
    ]
    path = home / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def add_corrections(db: Database, count: int) -> None:
    """Corrections of test images with their true labels, as `fashiond correct` stores them."""
    data = load_fashion_mnist(DEBIAN_DATA)
    with db.sessions.begin() as session:
        for i in range(count):
            image, label = data.test_images[-1 - i], CLASS_NAMES[int(data.test_labels[-1 - i])]
            prediction = Prediction(
                filename=f"{i}.png", path=f"labeled/{i}.png", sha256=f"{i:064d}", status="labeled"
            )
            session.add(prediction)
            session.flush()
            session.add(
                Correction(
                    prediction_id=prediction.id,
                    label=label,
                    pixels=np.ascontiguousarray(image).tobytes(),
                    height=28,
                    width=28,
                )
            )


def retrain(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "daemon", "retrain", "--config", str(home / "config.yaml")]
    return subprocess.run(
        [*argv, "--quiet", *args], capture_output=True, text=True, timeout=DEADLINE, cwd=home
    )


def rows(db: Database) -> dict[str, ModelVersion]:
    with db.sessions.begin() as session:
        return {r.version: r for r in session.scalars(select(ModelVersion))}


def pointer(home: Path) -> str:
    return str((home / "models" / "current.pickle").readlink())


def leftovers(home: Path, version: str) -> list[str]:
    return sorted(p.name for p in (home / "models").iterdir() if version in p.name)


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def candidate_running(db: Database) -> bool:
    return any(r.status == "candidate" for r in rows(db).values())


# --- the tests -----------------------------------------------------------------------


def test_killing_the_training_process_is_recorded_and_cleaned_up(home: Path, db: Database) -> None:
    write_config(home, data=DEBIAN_DATA, epochs=3)
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daemon",
            "retrain",
            "--config",
            "config.yaml",
            "--quiet",
            "--limit",
            LONG,
        ],
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: candidate_running(db), "the run to start")
        worker = int((home / "models" / LOCK_NAME).read_text())
        assert worker != supervisor.pid
        os.kill(worker, signal.SIGKILL)
        _, err = supervisor.communicate(timeout=DEADLINE)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
    assert supervisor.returncode == 1
    assert "error: retrain v0002 failed: the training process was killed by SIGKILL" in err
    v2 = rows(db)["v0002"]
    assert v2.status == "failed"
    assert "SIGKILL" in (v2.reason or "")
    assert leftovers(home, "v0002") == []
    assert pointer(home) == "v0001.pickle"

    # Nothing is left to block the next run (the scheduler test runs one after a failure).
    assert running_pid(home / "models") is None
    assert not candidate_running(db)


def test_missing_data_fails_the_run_without_touching_serving(home: Path, db: Database) -> None:
    write_config(home, data=home / "no-such-data")
    result = retrain(home)
    assert result.returncode == 3
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    v2 = rows(db)["v0002"]
    assert (v2.status, v2.reason.split(":")[0]) == ("failed", "missing or unreadable data")  # type: ignore[union-attr]
    assert pointer(home) == "v0001.pickle"
    assert leftovers(home, "v0002") == []


def test_an_error_in_training_fails_the_run(home: Path, db: Database) -> None:
    write_config(home, data=DEBIAN_DATA, arch="no-such-arch")
    result = retrain(home, "--limit", QUICK)
    assert result.returncode == 1
    assert "unknown architecture 'no-such-arch'" in result.stderr
    v2 = rows(db)["v0002"]
    assert v2.status == "failed"
    assert "unknown architecture" in (v2.reason or "")
    assert pointer(home) == "v0001.pickle"


def test_a_second_run_while_one_is_going_is_refused(home: Path, db: Database) -> None:
    from daemon.retraining import run_lock

    with run_lock(home / "models"):
        result = retrain(home, "--limit", QUICK)
    assert result.returncode == 7
    assert f"a retrain is already running (pid {os.getpid()})" in result.stderr
    assert rows(db) == {}


# --- the scheduler ---------------------------------------------------------------------


def schedule_config(home: Path, *, schedule: str, **retrain: object) -> object:
    write_config(home, data=DEBIAN_DATA, schedule=schedule, **retrain)
    return load_config(home / "config.yaml")


def add_past_run(db: Database, *, hours_ago: float) -> None:
    with db.sessions.begin() as session:
        session.add(
            ModelVersion(
                version="v0001",
                sha256="",
                path="",
                arch="mlp",
                status="failed",
                trigger="schedule",
                reason="an old run",
                created_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=hours_ago),
            )
        )


def test_a_missed_run_is_caught_up_and_a_candidate_not_better_enough_is_rejected(
    home: Path, db: Database
) -> None:
    config = schedule_config(home, schedule="every 1h", min_gain=1.0)  # 1.0: never better enough
    add_past_run(db, hours_ago=3)
    scheduler = RetrainScheduler(config, database=db, extra_args=["--limit", QUICK])  # type: ignore[arg-type]
    started = datetime.now(UTC)
    try:
        scheduler.poll(started)
        assert scheduler.running
        wait_for(lambda: scheduler.poll() or not scheduler.running, "the run to finish")
    finally:
        scheduler.close()
    assert scheduler.due == started + timedelta(hours=1)
    versions = rows(db)  # v0001 is the past run, v0002 the adopted current model
    assert (versions["v0003"].trigger, versions["v0003"].status) == ("catch-up", "rejected")
    assert "rejected: not better than v0002" in (versions["v0003"].reason or "")
    assert "min_gain 1" in (versions["v0003"].reason or "")
    assert versions["v0002"].status == "active"
    assert pointer(home) == "v0002.pickle"
    assert (home / "models" / "v0003.pickle").exists()  # kept, for `models promote`
    report = json.loads((home / "models" / "v0003.report" / "report.json").read_text())
    assert report["status"] == "rejected"


def test_without_catch_up_a_missed_run_waits_for_the_schedule(home: Path, db: Database) -> None:
    config = schedule_config(home, schedule="every 1h", catch_up=False)
    add_past_run(db, hours_ago=3)
    scheduler = RetrainScheduler(config, database=db)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    scheduler.poll(now)
    assert not scheduler.running
    assert scheduler.due == now + timedelta(hours=1)
    scheduler.poll(now + timedelta(minutes=59))
    assert not scheduler.running


def test_with_no_schedule_poll_does_nothing(home: Path, db: Database) -> None:
    scheduler = RetrainScheduler(load_config(home / "config.yaml"), database=db)
    scheduler.poll()
    assert scheduler.schedule is None and not scheduler.running and scheduler.due is None


def test_stopping_the_daemon_mid_run_records_the_run_failed(home: Path, db: Database) -> None:
    config = schedule_config(home, schedule="*/5 * * * *", epochs=3)
    add_past_run(db, hours_ago=1)
    scheduler = RetrainScheduler(config, database=db, extra_args=["--limit", LONG])  # type: ignore[arg-type]
    try:
        scheduler.poll()
        wait_for(lambda: candidate_running(db), "the run to start")
    finally:
        scheduler.close()
    run = rows(db)["v0003"]
    assert run.status == "failed"
    assert "stopped by SIGTERM" in (run.reason or "")
    assert leftovers(home, "v0003") == []
    assert pointer(home) == "v0002.pickle"


# --- with the daemon -------------------------------------------------------------------


def drop_image(home: Path, name: str, index: int) -> None:
    from PIL import Image

    data = load_fashion_mnist(DEBIAN_DATA)
    staging = home / name
    Image.fromarray(data.test_images[index]).save(staging, format="PNG")
    staging.replace(home / "inbox" / name)


def version_of(db: Database, name: str) -> str | None:
    with db.sessions.begin() as session:
        return session.scalar(select(Prediction.model_version).where(Prediction.filename == name))


def test_a_better_model_is_promoted_and_the_running_daemon_switches_to_it(
    home: Path, db: Database
) -> None:
    add_corrections(db, 60)
    before = (home / "models" / "current.pickle").read_bytes()
    (home / "inbox").mkdir()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "daemon", "run", "--config", "config.yaml"],
        cwd=home,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        drop_image(home, "before.png", 0)
        wait_for(lambda: version_of(db, "before.png") is not None, "the first image")
        assert version_of(db, "before.png") == "v0001"
        result = retrain(home, "--limit", QUICK)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("v0002: promoted over v0001")
        assert pointer(home) == "v0002.pickle"
        drop_image(home, "after.png", 1)
        wait_for(lambda: version_of(db, "after.png") is not None, "the second image")
        assert version_of(db, "after.png") == "v0002"
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=DEADLINE)
    assert daemon.returncode == 0, err
    # The file `fashiond train` wrote was kept, as v0001.
    assert (home / "models" / "v0001.pickle").read_bytes() == before
    check_promoted_run(home, db)
    check_rollback(home, db)


def check_promoted_run(home: Path, db: Database) -> None:
    versions = rows(db)
    assert (versions["v0001"].status, versions["v0002"].status) == ("retired", "active")
    v2 = versions["v0002"]
    assert (v2.parent_version, v2.trigger, v2.epochs) == ("v0001", "manual", 1)
    assert v2.test_accuracy is not None and v2.corrections_accuracy is not None
    assert v2.sha256 == load_params(home / "models" / "current.pickle").sha256
    report_dir = home / "models" / "v0002.report"
    for png in ("curves.png", "confusion.png"):
        assert (report_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((report_dir / "report.json").read_text())
    assert report["status"] == "active"
    assert report["data"]["corrections_train"] + report["data"]["corrections_held_out"] == 60
    assert report["data"]["train_examples"] == 2000 + 10 * report["data"]["corrections_train"]
    assert report["current"]["test_accuracy"] <= report["candidate"]["test_accuracy"]
    assert np.asarray(report["confusion_matrix"]).sum() == 2000
    listing = models(home)
    assert listing.returncode == 0, listing.stderr
    assert "* v0002    active" in listing.stdout


def check_rollback(home: Path, db: Database) -> None:
    rollback = models(home, "rollback")
    assert rollback.returncode == 0, rollback.stderr
    assert pointer(home) == "v0001.pickle"
    versions = rows(db)
    assert (versions["v0001"].status, versions["v0002"].status) == ("active", "retired")


def models(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", "models", *args, "--config", "config.yaml"],
        capture_output=True,
        text=True,
        cwd=home,
        timeout=DEADLINE,
    )
