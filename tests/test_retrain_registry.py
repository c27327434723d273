"""The model registry and `fashiond models`, on small generated models (no training)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, event, select

from daemon.cli import main
from daemon.db.database import Database, open_database
from daemon.db.schema import ModelVersion
from daemon.errors import DaemonStateError, UsageError
from daemon.model_registry import (
    ModelStore,
    adopt_current,
    fail_stale_candidates,
    prune,
    start_candidate,
    version_for,
)
from daemon.retraining import run_lock, running_pid
from nnet.architectures import MLP, build_network
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.params_file import load_params, save_params


def tiny_model(seed: int) -> TrainedModel:
    metadata = TrainingMetadata(
        arch="mlp",
        epochs=1,
        batch_size=1,
        seed=seed,
        test_accuracy=None,
        created_at="",
        data_fingerprint="",
    )
    return TrainedModel(build_network(MLP.spec, seed=seed), CLASS_NAMES, InputFormat(), metadata)


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    (tmp_path / "models").mkdir()
    return ModelStore(tmp_path / "models" / "current.pickle")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path}/fashiond.db", create=True)
    yield database
    database.dispose()


def add_version(
    db: Database, store: ModelStore, *, seed: int, status: str, parent: str | None
) -> str:
    model = tiny_model(seed)
    with db.sessions.begin() as session:
        row = start_candidate(session, store, parent=parent, arch="mlp", epochs=1, trigger="manual")
        save_params(model, store.file_for(row.version))
        row.sha256, row.status, row.path = model.sha256, status, str(store.file_for(row.version))
        return row.version


def deploy_plain_file(db: Database, store: ModelStore) -> None:
    """What `fashiond train` leaves, adopted as v0001 as a retrain's start would."""
    save_params(tiny_model(1), store.pointer)
    with db.sessions.begin() as session:
        adopt_current(session, store)


def statuses(db: Database) -> dict[str, str]:
    with db.sessions.begin() as session:
        return {r.version: r.status for r in session.scalars(select(ModelVersion))}


def models_cli(tmp_path: Path, *args: str) -> int:
    config = tmp_path / "config.yaml"
    if not config.exists():
        config.write_text("model: models/current.pickle\n")
    return main(
        ["models", *args, "--config", str(config), "--db", f"sqlite:///{tmp_path}/fashiond.db"]
    )


def test_a_plain_model_file_is_adopted_as_a_version_behind_a_symlink(
    db: Database, store: ModelStore
) -> None:
    model = tiny_model(1)
    save_params(model, store.pointer)
    with db.sessions.begin() as session:
        row = adopt_current(session, store)
        assert row is not None
        assert (row.version, row.status, row.path) == (
            "v0001",
            "active",
            str(store.file_for("v0001")),
        )
    assert store.pointer.is_symlink()
    assert store.pointer.readlink() == Path("v0001.pickle")
    assert load_params(store.pointer).sha256 == model.sha256
    with db.sessions.begin() as session:  # a second time changes nothing
        assert adopt_current(session, store).version == "v0001"  # type: ignore[union-attr]
    assert statuses(db) == {"v0001": "active"}


def test_a_models_folder_from_another_database_is_not_trusted(
    db: Database, store: ModelStore
) -> None:
    save_params(tiny_model(1), store.file_for("v0001"))  # left by an earlier database
    save_params(tiny_model(2), store.pointer)
    with pytest.raises(UsageError, match="holds another model"), db.sessions.begin() as session:
        adopt_current(session, store)
    assert not store.pointer.is_symlink()


def test_no_deployed_model_adopts_nothing(db: Database, store: ModelStore) -> None:
    with db.sessions.begin() as session:
        assert adopt_current(session, store) is None


def test_a_retrain_and_a_model_copied_in_registering_at_once_get_different_names(
    tmp_path: Path, store: ModelStore
) -> None:
    """The daemon registers a hand-copied model and, before it commits, a retrain
    reserves its candidate from another connection: the retrain must not pick the
    name the daemon's open transaction holds."""
    url = f"sqlite:///{tmp_path}/fashiond.db"
    daemon_db, retrain_db = open_database(url, create=True), open_database(url)
    retrain_writes = threading.Event()

    @event.listens_for(retrain_db.engine, "before_cursor_execute")
    def _seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith(("INSERT INTO model_versions", "UPDATE model_versions")):
            retrain_writes.set()

    outcome: dict[str, object] = {}

    def retrain() -> None:
        try:
            with retrain_db.sessions.begin() as session:
                row = start_candidate(
                    session, store, parent=None, arch="mlp", epochs=1, trigger="manual"
                )
                outcome["version"] = row.version
        except Exception as exc:  # reported below, with the main thread's assertions
            outcome["error"] = exc

    thread = threading.Thread(target=retrain)
    try:
        with daemon_db.sessions.begin() as session:
            copied = version_for(session, model=tiny_model(1), path=store.pointer)
            thread.start()
            assert retrain_writes.wait(timeout=20)  # the retrain has read what it reads first
        thread.join(timeout=30)
    finally:
        thread.join()
        daemon_db.dispose()
        retrain_db.dispose()
    assert "error" not in outcome, outcome.get("error")
    assert (copied, outcome["version"]) == ("v0001", "v0002")


def test_a_version_deleted_by_hand_does_not_make_the_next_name_collide(
    db: Database, store: ModelStore
) -> None:
    for seed in (1, 2, 3):
        add_version(db, store, seed=seed, status="rejected", parent=None)
    with db.sessions.begin() as session:  # what `sqlite3 fashiond.db 'DELETE ...'` does
        session.execute(delete(ModelVersion).where(ModelVersion.version == "v0002"))
    with db.sessions.begin() as session:
        copied = version_for(session, model=tiny_model(4), path=store.pointer)
    assert copied == "v0004"  # two rows left, but v0003 is taken
    assert statuses(db) == {"v0001": "rejected", "v0003": "rejected", "v0004": "active"}


def test_promote_and_rollback_repoint_current_and_update_statuses(
    tmp_path: Path, db: Database, store: ModelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_plain_file(db, store)
    v2 = add_version(db, store, seed=2, status="rejected", parent="v0001")
    assert models_cli(tmp_path, "promote", v2) == 0
    assert "deployed v0002" in capsys.readouterr().out
    assert store.pointer.readlink() == Path("v0002.pickle")
    assert statuses(db) == {"v0001": "retired", "v0002": "active"}

    assert models_cli(tmp_path, "rollback") == 0
    assert "rolled back from v0002 to v0001" in capsys.readouterr().out
    assert store.pointer.readlink() == Path("v0001.pickle")
    assert statuses(db) == {"v0001": "active", "v0002": "retired"}

    assert models_cli(tmp_path, "rollback") == 2  # v0001 has no parent
    assert "has no parent version" in capsys.readouterr().err

    assert models_cli(tmp_path) == 0
    listing = capsys.readouterr().out
    assert "* v0001    active" in listing
    assert "  v0002    retired" in listing


def test_a_bad_file_is_never_promoted(
    tmp_path: Path, db: Database, store: ModelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_plain_file(db, store)
    v2 = add_version(db, store, seed=2, status="retired", parent="v0001")
    store.file_for(v2).write_bytes(b"not a pickle")
    assert models_cli(tmp_path, "promote", v2) == 4
    assert "truncated or corrupt" in capsys.readouterr().err
    assert store.pointer.readlink() == Path("v0001.pickle")
    assert statuses(db)["v0001"] == "active"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("promote", "v0042"), "no model version 'v0042'"),
        (("show",), "'models show' takes a version"),
        (("rollback", "v0001"), "takes no version"),
    ],
)
def test_models_usage_errors(
    tmp_path: Path,
    db: Database,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    assert models_cli(tmp_path, *args) == 2
    assert message in capsys.readouterr().err


def test_prune_keeps_the_newest_inactive_files_and_the_rollback_target(
    db: Database, store: ModelStore
) -> None:
    v1 = add_version(db, store, seed=1, status="retired", parent=None)
    v2 = add_version(db, store, seed=2, status="rejected", parent=v1)
    v3 = add_version(db, store, seed=3, status="rejected", parent=v1)
    v4 = add_version(db, store, seed=4, status="rejected", parent=v1)
    v5 = add_version(db, store, seed=5, status="active", parent=v1)
    with db.sessions.begin() as session:
        removed = prune(session, store, keep=1)
    # v4 is the newest inactive; v1 is v5's parent; v5 is deployed.
    assert sorted(removed) == [v2, v3]
    assert [v for v in (v1, v2, v3, v4, v5) if store.file_for(v).exists()] == [v1, v4, v5]


def test_stale_candidates_are_failed_and_their_files_removed(
    db: Database, store: ModelStore
) -> None:
    with db.sessions.begin() as session:
        row = start_candidate(session, store, parent=None, arch="mlp", epochs=1, trigger="schedule")
    store.file_for(row.version).write_bytes(b"half")
    (store.folder / f".{row.version}.pickle.abc.tmp").write_bytes(b"half")
    store.report_for(row.version).mkdir()
    (store.report_for(row.version) / "curves.png").write_bytes(b"half")
    with db.sessions.begin() as session:
        assert fail_stale_candidates(session, store, reason="died") == [row.version]
    assert sorted(p.name for p in store.folder.iterdir()) == []
    assert statuses(db) == {row.version: "failed"}


def test_the_run_lock_admits_one_run(store: ModelStore) -> None:
    assert running_pid(store.folder) is None
    with run_lock(store.folder):
        assert running_pid(store.folder) == os.getpid()
        with pytest.raises(DaemonStateError, match="already running"), run_lock(store.folder):
            pass
    assert running_pid(store.folder) is None


def test_listing_an_empty_registry(
    tmp_path: Path, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert models_cli(tmp_path) == 0
    assert "no model versions yet" in capsys.readouterr().out


def test_the_curves_png_is_a_real_png(tmp_path: Path) -> None:
    from daemon.plots.curves import training_curves_png
    from nnet.history import EpochRecord, History

    history = History([EpochRecord(i, 1.0 / i, 0.5 + i / 10, 1.1 / i, 0.5, 0.1) for i in (1, 2, 3)])
    path = training_curves_png(history, tmp_path / "c.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.isfinite(path.stat().st_size)


def test_show_names_the_figures_and_the_report_files(
    tmp_path: Path, db: Database, store: ModelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_plain_file(db, store)
    v2 = add_version(db, store, seed=2, status="rejected", parent="v0001")
    assert models_cli(tmp_path, "show", v2) == 0
    out = capsys.readouterr().out
    assert "status:               rejected" in out
    assert "parent:               v0001" in out
    assert f"curves:               {store.report_for(v2) / 'curves.png'} (none)" in out
    assert f"report:               {store.report_for(v2) / 'report.json'}" in out
