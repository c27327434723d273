"""One retrain run, start to finish, inside the process that trains.

A run reserves its version as a `candidate` row first, so that whatever
happens next leaves a trace; then it trains, scores the candidate and the
deployed model on the same data, saves the candidate's file and report, and
either deploys it or records it `rejected`. Any failure removes the run's
files and records it `failed` with the reason; the deployed model is touched
only by the final, atomic repointing of `current`.

Only one run at a time: the training process holds an exclusive lock on
models/.retrain.lock for its whole life, so a run whose process died is one
whose lock is free, which is how stale `candidate` rows are told from live ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from daemon.config import Config
from daemon.db.database import Database, open_database
from daemon.db.schema import utcnow
from daemon.errors import DaemonStateError
from daemon.model_registry import (
    ModelStore,
    active_version,
    adopt_current,
    deploy,
    fail_run,
    fail_stale_candidates,
    find_version,
    prune,
    start_candidate,
)
from daemon.retrain_report import RunReport, write_figures, write_report_json
from daemon.training_set import LabeledImages, TrainingSet, load_training_set
from nnet.architectures import Architecture, get_architecture
from nnet.errors import DataError, ParamsFileError
from nnet.history import History, TrainingObserver
from nnet.model import CLASS_NAMES, TrainedModel
from nnet.params_file import load_params, save_params
from nnet.training import train_model

log = logging.getLogger(__name__)

LOCK_NAME = ".retrain.lock"
STALE_REASON = "the training process died without finishing (killed, out of memory, or a crash)"


class RunStoppedError(BaseException):
    """The run was asked to stop (SIGTERM: the daemon stopping, or the user).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on
    the way (a loader turning any error into "corrupt file") can swallow it.
    """


@dataclass(frozen=True)
class Scores:
    test_accuracy: float
    corrections_accuracy: float | None  # None without held-out corrections


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


@dataclass(frozen=True)
class RunResult:
    version: str
    status: str  # active | rejected
    reason: str
    candidate: Scores
    current: Scores | None
    current_version: str | None
    training_seconds: float
    report: Path


# --- the lock ------------------------------------------------------------------------


@contextlib.contextmanager
def run_lock(folder: Path, *, record_pid: bool = True) -> Iterator[None]:
    """Hold models/.retrain.lock, or raise DaemonStateError naming the run that holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise DaemonStateError(
                f"a retrain is already running (pid {holder})",
                hint="wait for it to finish; 'fashiond models' shows its candidate",
            ) from None
        if record_pid:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def running_pid(folder: Path) -> int | None:
    """The pid of the run holding the lock, or None when no run is going."""
    if not (folder / LOCK_NAME).exists():
        return None
    try:
        with run_lock(folder, record_pid=False):
            return None
    except DaemonStateError:
        text = (folder / LOCK_NAME).read_text(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    except OSError:
        return None


def sweep_stale_runs(config: Config, *, db_url: str) -> list[str]:
    """Mark `candidate` rows whose process died as failed, unless a run is going now."""
    store = ModelStore(config.model)
    if not (store.folder / LOCK_NAME).exists():
        return []  # no run ever started here, so none can have died
    try:
        with run_lock(store.folder):
            db = open_database(db_url, create=True)
            try:
                with db.sessions.begin() as session:
                    return fail_stale_candidates(session, store, reason=STALE_REASON)
            finally:
                db.dispose()
    except DaemonStateError:
        return []


# --- the run -------------------------------------------------------------------------


def run_retrain(
    config: Config,
    *,
    db_url: str,
    trigger: str = "manual",
    limit: int | None = None,
    observer: TrainingObserver | None = None,
    announce: Callable[[str], None] | None = None,
) -> RunResult:
    """Train, judge and maybe deploy one candidate; `announce` hears its version first."""
    store = ModelStore(config.model)
    with run_lock(store.folder):
        db = open_database(db_url, create=True)
        try:
            with db.sessions.begin() as session:
                stale = fail_stale_candidates(session, store, reason=STALE_REASON)
                run = _reserve(session, config, store=store, db=db, trigger=trigger, limit=limit)
            try:
                if stale:
                    log.warning("marked stale runs as failed: %s", ", ".join(stale))
                if announce is not None:
                    announce(run.version)
                return _run(run, observer=observer)
            except BaseException as exc:
                with db.sessions.begin() as session:
                    row = find_version(session, run.version)
                    fail_run(session, store, row, reason=failure_reason(exc))
                raise
        finally:
            db.dispose()


@dataclass(frozen=True)
class _Run:
    """What one run works with, passed between its steps."""

    config: Config
    db: Database
    store: ModelStore
    version: str
    seed: int  # the row's id, so that each run shuffles differently
    limit: int | None
    parent: str | None  # the deployed model when the run started
    unreadable: ParamsFileError | None  # why the deployed model could not be adopted


def _reserve(
    session: Session,
    config: Config,
    *,
    store: ModelStore,
    db: Database,
    trigger: str,
    limit: int | None,
) -> _Run:
    """Adopt the deployed model as the parent, then reserve the candidate's version."""
    try:
        current = adopt_current(session, store)
        unreadable = None
    except ParamsFileError as exc:
        current, unreadable = None, exc
    parent = current.version if current is not None else None
    row = start_candidate(
        session,
        store,
        parent=parent,
        arch=config.retrain.arch,
        epochs=config.retrain.epochs,
        trigger=trigger,
    )
    return _Run(config, db, store, row.version, row.id, limit, parent, unreadable)


def _run(run: _Run, *, observer: TrainingObserver | None) -> RunResult:
    arch = get_architecture(run.config.retrain.arch)  # a typo fails before the data loads
    parent, data = run.parent, _gather(run)
    current = load_params(run.store.file_for(parent)) if parent is not None else None
    current_scores = score(current, data) if current is not None else None
    initial, warm_note = _initial_model(run.config, current)
    model, history, seconds = _train(run, arch, data, initial=initial, observer=observer)
    candidate_scores = score(model, data)
    decision = decide(
        candidate_scores,
        current_scores,
        min_gain=run.config.retrain.min_gain,
        current_version=parent,
    )
    save_params(model, run.store.file_for(run.version))
    report = RunReport(
        version=run.version,
        parent=parent,
        arch=run.config.retrain.arch,
        epochs=run.config.retrain.epochs,
        warm_start=warm_note,
        seed=run.seed,
        limit=run.limit,
        training_seconds=seconds,
        data=data,
        history=history,
        candidate=candidate_scores,
        current=current_scores,
    )
    figures = write_figures(report, model=model, folder=run.store.report_for(run.version))
    decision = _conclude(run, report=report, model=model, decision=decision, figures=figures)
    return RunResult(
        version=run.version,
        status="active" if decision.promote else "rejected",
        reason=decision.reason,
        candidate=candidate_scores,
        current=current_scores,
        current_version=parent,
        training_seconds=seconds,
        report=run.store.report_for(run.version),
    )


def _train(
    run: _Run,
    arch: Architecture,
    data: TrainingSet,
    *,
    initial: TrainedModel | None,
    observer: TrainingObserver | None,
) -> tuple[TrainedModel, History, float]:
    started = time.perf_counter()
    model, history = train_model(
        arch,
        train_images=data.train.images,
        train_labels=data.train.labels,
        test_images=data.test.images,
        test_labels=data.test.labels,
        epochs=run.config.retrain.epochs,
        seed=run.seed,
        initial=initial,
        observer=observer,
    )
    return model, history, time.perf_counter() - started


def _gather(run: _Run) -> TrainingSet:
    if run.unreadable is not None:
        raise run.unreadable
    with run.db.sessions.begin() as session:
        corrections = session if run.config.retrain.include_corrections else None
        return load_training_set(corrections, data=run.config.data, limit=run.limit, seed=run.seed)


def _conclude(
    run: _Run,
    *,
    report: RunReport,
    model: TrainedModel,
    decision: Decision,
    figures: dict[str, Any],
) -> Decision:
    """Record the figures and deploy or reject, in one transaction; returns the final decision."""
    with run.db.sessions.begin() as session:
        row = find_version(session, run.version)
        deployed = active_version(session)
        deployed_now = deployed.version if deployed is not None else None
        if decision.promote and deployed_now != report.parent:
            decision = Decision(
                False, f"the deployed model changed to {deployed_now} during the run"
            )
        row.sha256 = model.sha256
        row.path = str(run.store.file_for(run.version))
        row.test_accuracy = report.candidate.test_accuracy
        row.corrections_accuracy = report.candidate.corrections_accuracy
        row.training_seconds = report.training_seconds
        row.finished_at = utcnow()
        write_report_json(
            report,
            decision=decision,
            figures=figures,
            min_gain=run.config.retrain.min_gain,
            folder=run.store.report_for(run.version),
        )
        if decision.promote:
            deploy(session, run.store, row, reason=decision.reason)
        else:
            row.status, row.reason = "rejected", decision.reason
        pruned = prune(session, run.store, keep=run.config.retrain.keep_versions)
    if pruned:
        log.info("removed the files of %s (retrain.keep_versions)", ", ".join(pruned))
    return decision


def _initial_model(config: Config, current: TrainedModel | None) -> tuple[TrainedModel | None, str]:
    """Warm start only from a model of the same architecture; the note goes in the report."""
    if not config.retrain.warm_start:
        return None, "off: trained from scratch (retrain.warm_start is false)"
    if current is None:
        return None, "none: no deployed model, trained from scratch"
    if current.metadata.arch != config.retrain.arch:
        return None, (
            f"skipped: the deployed model is {current.metadata.arch}, retrain.arch is "
            f"{config.retrain.arch}; trained from scratch"
        )
    return current, "fine-tuned the deployed model"


# --- judging -------------------------------------------------------------------------


def score(model: TrainedModel, data: TrainingSet) -> Scores:
    """Accuracy on the test set and the held-out corrections, comparing class names."""
    held = data.corrections.held_out
    return Scores(
        test_accuracy=accuracy(model, data.test),
        corrections_accuracy=accuracy(model, held) if len(held) else None,
    )


def accuracy(model: TrainedModel, examples: LabeledImages) -> float:
    predicted = predict(model, examples.images)
    expected = np.asarray(CLASS_NAMES)[examples.labels]
    return float(np.mean(np.asarray(model.class_names)[predicted] == expected))


def predict(model: TrainedModel, images: np.ndarray) -> np.ndarray:
    return model.network.predict(model.input_format.normalize(images))


def decide(
    candidate: Scores, current: Scores | None, *, min_gain: float, current_version: str | None
) -> Decision:
    """Promote only if the candidate is at least `min_gain` better on every shared measure.

    Both the test set and the held-out corrections must clear the bar, so a
    candidate that learned the user's images by forgetting clothing in
    general, or the other way round, is rejected.
    """
    if current is None:
        return Decision(True, "promoted: no model was deployed")
    pairs = [("test accuracy", candidate.test_accuracy, current.test_accuracy)]
    if candidate.corrections_accuracy is not None and current.corrections_accuracy is not None:
        pairs.append(
            ("corrections accuracy", candidate.corrections_accuracy, current.corrections_accuracy)
        )
    parts = [
        f"{name} {ours:.4f} {'>=' if ours >= theirs + min_gain else '<'} {theirs:.4f} "
        f"+ min_gain {min_gain:g}"
        for name, ours, theirs in pairs
    ]
    promote = all(ours >= theirs + min_gain for _, ours, theirs in pairs)
    verdict = "promoted over" if promote else "rejected: not better than"
    return Decision(promote, f"{verdict} {current_version}: {'; '.join(parts)}")


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, DataError):
        return f"missing or unreadable data: {exc}"
    if isinstance(exc, ParamsFileError):
        return f"the deployed model cannot be read: {exc}"
    if isinstance(exc, RunStoppedError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(exc, MemoryError):
        return "out of memory while training"
    return f"{type(exc).__name__} while training: {exc}"
