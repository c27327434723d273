"""Model versions: the one place that names a parameters file `v0001`, `v0002`, ...

A model is identified by the SHA-256 of its payload, so the same file under
another path (a `current` pointer, a copy) is the same version.

The folder of the deployed model (`config.model`, by default
models/current.pickle) holds one file per version, `vNNNN.pickle`, a report
folder beside each, `vNNNN.report/`, and the deployed model itself as a
symlink to one of them. The symlink is repointed by renaming a fresh symlink
over it, so a reader sees the old file or the new one, never neither. A plain
file there (what `fashiond train` writes) is adopted as a version the first
time a retrain, promote or rollback needs it.

Statuses: `candidate` while a run is training, then `active` (deployed),
`rejected` (not better than the model it was meant to replace), `retired`
(was active, replaced or rolled back), or `failed` (the run did not finish;
its files are gone). `reason` says why in each case.

Pruning keeps the newest `keep` inactive files, and always keeps the active
file and its parent, which is what `rollback` returns to. Report folders are
kept: they are small, and they are the record of what each run measured.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Integer, cast, false, func, select, update
from sqlalchemy.orm import Session

from daemon.db.schema import ModelVersion, utcnow
from daemon.errors import UsageError
from nnet.errors import ParamsFileError
from nnet.model import TrainedModel
from nnet.params_file import load_params

STATUSES = ("candidate", "active", "rejected", "retired", "failed")
INACTIVE = ("rejected", "retired")
_VERSION_FILE = re.compile(r"v\d{4,}\.pickle")


def version_for(session: Session, *, model: TrainedModel, path: Path) -> str:
    """The version name of the model being served, registered on first sight.

    Whoever loads the deployed file serves it, so its version becomes the one
    active row: a model swapped in by hand retires the one it replaced, and
    `status` and `models` never show two active versions.
    """
    row = session.scalar(select(ModelVersion).where(ModelVersion.sha256 == model.sha256))
    if row is None:
        row = ModelVersion(
            sha256=model.sha256,
            path=str(path),
            arch=model.metadata.arch,
            epochs=model.metadata.epochs,
            test_accuracy=model.metadata.test_accuracy,
            status="candidate",
        )
        add_with_next_name(session, row)
        _make_active(session, row, reason=None)
    elif row.status != "active":
        _make_active(session, row, reason=f"deployed by hand at {path}")
    return row.version


def add_with_next_name(session: Session, row: ModelVersion) -> None:
    """Name `row` one past the highest version number in use, and insert it.

    Two processes can register a version at the same instant: a retrain
    reserving its candidate, and the daemon meeting a model copied in by hand.
    A name read before this transaction writes could be taken in between, so
    the transaction first takes the database's write lock, with an UPDATE that
    matches no row; on SQLite the other writer then waits (busy timeout) until
    this one commits, and reads a number that includes this row. The highest
    number rather than the count of rows: once a row is deleted by hand, the
    count names a version that still exists.
    """
    session.execute(
        update(ModelVersion)
        .where(false())
        .values(version=ModelVersion.version)
        .execution_options(synchronize_session=False)
    )
    number = cast(func.substr(ModelVersion.version, 2), Integer)  # "v0012" -> 12
    highest = session.scalar(select(func.max(number))) or 0
    row.version = f"v{highest + 1:04d}"
    session.add(row)
    session.flush()


@dataclass(frozen=True)
class ModelStore:
    """The files of the registry: versioned parameters, reports, and the `current` pointer."""

    pointer: Path  # config.model

    @property
    def folder(self) -> Path:
        return self.pointer.parent

    def file_for(self, version: str) -> Path:
        return self.folder / f"{version}.pickle"

    def report_for(self, version: str) -> Path:
        return self.folder / f"{version}.report"

    def pointed_version(self) -> str | None:
        """The version `current` links to, if it is one of ours."""
        if not self.pointer.is_symlink():
            return None
        target = self.pointer.readlink()
        if not _VERSION_FILE.fullmatch(target.name):
            return None
        if (self.folder / target).resolve() != self.file_for(target.stem).resolve():
            return None
        return target.stem

    def point_at(self, version: str) -> None:
        """Repoint `current` atomically: a temporary symlink renamed over it."""
        target = self.file_for(version)
        if not target.is_file():
            raise UsageError(f"{target} is missing", hint="choose another version")
        temporary = self.folder / f".{self.pointer.name}.{os.getpid()}.link"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target.name)
        temporary.replace(self.pointer)

    def remove_files(self, version: str) -> None:
        """A version's parameters file, report and any half-written temporary files."""
        self.file_for(version).unlink(missing_ok=True)
        shutil.rmtree(self.report_for(version), ignore_errors=True)
        for leftover in self.folder.glob(f".{version}.*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


# --- queries ---------------------------------------------------------------------------


def find_version(session: Session, version: str) -> ModelVersion:
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise UsageError(f"no model version {version!r}", hint="see 'fashiond models'")
    return row


def all_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))


def active_version(session: Session) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.status == "active").order_by(ModelVersion.id.desc())
    )


def last_run_started(session: Session) -> datetime | None:
    """When the newest retrain run started (naive UTC), whatever became of it."""
    return session.scalar(
        select(func.max(ModelVersion.created_at)).where(ModelVersion.trigger.is_not(None))
    )


def newest_run(session: Session) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion)
        .where(ModelVersion.trigger.is_not(None))
        .order_by(ModelVersion.id.desc())
    )


# --- changes ---------------------------------------------------------------------------


def adopt_current(session: Session, store: ModelStore) -> ModelVersion | None:
    """The row of the deployed model, making `current` a symlink to its vNNNN file.

    The pointer's contents decide what is active, since that is what the daemon
    serves; the database and the symlink are brought in line with them. None
    when there is no deployed model.
    """
    if not store.pointer.exists():
        return None
    model = load_params(store.pointer)
    row = find_version(session, version_for(session, model=model, path=store.pointer))
    if store.pointed_version() != row.version:
        target = store.file_for(row.version)
        if not target.exists():
            temporary = store.folder / f".{row.version}.pickle.adopt.tmp"
            shutil.copyfile(store.pointer, temporary)
            temporary.replace(target)
        elif load_params(target).sha256 != model.sha256:
            raise _mismatch(target)
        store.point_at(row.version)
    row.path = str(store.file_for(row.version))
    _make_active(session, row, reason=row.reason or f"adopted from {store.pointer.name}")
    return row


def _mismatch(path: Path) -> UsageError:
    return UsageError(
        f"{path} holds another model than the database's version of that name",
        hint="point --db at the database that goes with this models folder, "
        "or move the folder aside",
    )


def promote(session: Session, store: ModelStore, version: str, *, reason: str) -> ModelVersion:
    """The user's choice of version: anything finished whose file is still there."""
    _adopt_or_set_aside(session, store)
    row = find_version(session, version)
    if row.status in ("failed", "candidate"):
        raise UsageError(
            f"{version} is {row.status}; only a finished model can be promoted",
            hint="see 'fashiond models'",
        )
    if not store.file_for(version).is_file():
        raise UsageError(
            f"the file of {version} was removed (retrain.keep_versions)",
            hint="choose a version whose file is kept; see 'fashiond models'",
        )
    deploy(session, store, row, reason=reason)
    return row


def _adopt_or_set_aside(session: Session, store: ModelStore) -> None:
    """Before repointing, keep the deployed file: as a version, or renamed if it cannot load."""
    try:
        adopt_current(session, store)
    except ParamsFileError:
        if not store.pointer.is_symlink():
            store.pointer.replace(store.pointer.with_name(store.pointer.name + ".unreadable"))


def deploy(session: Session, store: ModelStore, row: ModelVersion, *, reason: str) -> None:
    """Make `row` active and repoint `current`, after checking that its file loads."""
    load_params(store.file_for(row.version))
    _make_active(session, row, reason=reason)
    store.point_at(row.version)


def rollback(session: Session, store: ModelStore) -> tuple[ModelVersion, ModelVersion]:
    """Return to the active model's parent; the model rolled back from is retired."""
    current = adopt_current(session, store)
    if current is None:
        raise UsageError(f"there is no deployed model at {store.pointer}")
    if current.parent_version is None:
        raise UsageError(
            f"{current.version} has no parent version to roll back to",
            hint="use 'fashiond models promote V' to choose a version",
        )
    parent = find_version(session, current.parent_version)
    if not store.file_for(parent.version).exists():
        raise UsageError(f"the file of {parent.version} is gone; cannot roll back to it")
    promote(session, store, parent.version, reason=f"restored by rollback from {current.version}")
    current.reason = f"rolled back to {parent.version}"
    return current, parent


def start_candidate(
    session: Session,
    store: ModelStore,
    *,
    parent: str | None,
    arch: str,
    epochs: int,
    trigger: str,
) -> ModelVersion:
    """The row of a run that is starting: its version name is reserved from here on."""
    row = ModelVersion(
        sha256="",
        path="",
        parent_version=parent,
        arch=arch,
        epochs=epochs,
        status="candidate",
        trigger=trigger,
        reason="training",
    )
    add_with_next_name(session, row)
    if store.file_for(row.version).exists() or store.report_for(row.version).exists():
        raise _mismatch(store.file_for(row.version))
    return row


def fail_run(session: Session, store: ModelStore, row: ModelVersion, *, reason: str) -> None:
    """Record a run as failed and remove what it wrote, unless `current` already points there."""
    if store.pointed_version() != row.version:
        store.remove_files(row.version)
    row.status = "failed"
    row.reason = reason
    row.path = ""
    row.finished_at = utcnow()


def fail_stale_candidates(session: Session, store: ModelStore, *, reason: str) -> list[str]:
    """Mark runs that died without saying so as failed. Only call with the run lock held."""
    stale = list(session.scalars(select(ModelVersion).where(ModelVersion.status == "candidate")))
    for row in stale:
        fail_run(session, store, row, reason=reason)
    return [row.version for row in stale]


def prune(session: Session, store: ModelStore, *, keep: int) -> list[str]:
    """Delete the files of all but the newest `keep` inactive versions; return their names."""
    active = active_version(session)
    protected = {active.version, active.parent_version} if active is not None else set()
    inactive = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.status.in_(INACTIVE))
        .order_by(ModelVersion.id.desc())
    )
    with_files = [row for row in inactive if store.file_for(row.version).exists()]
    removed = []
    for row in with_files[keep:]:
        if row.version in protected:
            continue
        store.file_for(row.version).unlink(missing_ok=True)
        removed.append(row.version)
    return removed


def _make_active(session: Session, row: ModelVersion, *, reason: str | None) -> None:
    others = session.scalars(
        select(ModelVersion).where(ModelVersion.status == "active", ModelVersion.id != row.id)
    )
    for other in others:
        other.status = "retired"
        other.reason = f"replaced by {row.version}"
    row.status = "active"
    row.reason = reason
    session.flush()
