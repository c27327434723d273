"""A retrain's two processes: the supervisor that is started, and the worker that trains.

`fashiond retrain` (typed by a user, or started by the daemon's scheduler) is
the supervisor. It starts `python -m daemon retrain --worker` in a process
group of its own, at the lowest CPU priority (see `lower_priority`) and with
one BLAS thread, so that the worker's CPU time goes to whoever else wants it
first.
The worker does the whole run (see daemon.retraining) and prints two lines on
stdout, `candidate vNNNN` when it starts and `result {json}` at the end.

If the worker dies without finishing (kill -9, the kernel's OOM killer), the
supervisor records the run `failed` from the exit status and removes its
files. If the supervisor is told to stop (SIGTERM from the daemon shutting
down, or Ctrl-C), it stops the worker with SIGTERM, which the worker turns
into a clean `failed` record; a worker that does not stop in time is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from daemon.config import Config
from daemon.db.database import open_database
from daemon.errors import DaemonStateError, FashiondError
from daemon.model_registry import ModelStore, fail_run, fail_stale_candidates, find_version
from daemon.retraining import (
    RunResult,
    RunStoppedError,
    run_lock,
    run_retrain,
    running_pid,
)

RETRAIN_NICE = 19  # the lowest CPU priority, for the supervisor and the worker
WORKER_THREADS = "1"  # BLAS/OpenMP threads for training
STOP_GRACE_SECONDS = 20.0
LIMIT_ENV = "FASHIOND_RETRAIN_LIMIT"  # for tests and trials: train on a subset


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs, spelled so it survives a command line."""

    config_file: Path | None
    db_url: str
    model: Path
    trigger: str = "manual"
    limit: int | None = None
    quiet: bool = False

    def worker_argv(self) -> list[str]:
        argv = [sys.executable, "-m", "daemon", "retrain", "--worker"]
        if self.config_file is not None:
            argv += ["--config", str(self.config_file)]
        argv += ["--db", self.db_url, "--model", str(self.model), "--trigger", self.trigger]
        if self.limit is not None:
            argv += ["--limit", str(self.limit)]
        if self.quiet:
            argv.append("--quiet")
        return argv


def default_limit() -> int | None:
    text = os.environ.get(LIMIT_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


# --- the supervisor ------------------------------------------------------------------


def supervise(spec: RunSpec, config: Config, *, out: TextIO) -> int:
    """Run one retrain in a worker process and report it; returns an exit status."""
    lower_priority()
    store = ModelStore(config.model)
    pid = running_pid(store.folder)
    if pid is not None:
        raise DaemonStateError(
            f"a retrain is already running (pid {pid})", hint="wait for it to finish"
        )
    with _stop_signals_raise():
        worker = subprocess.Popen(
            spec.worker_argv(),
            stdout=subprocess.PIPE,
            text=True,
            env=_worker_env(),
            process_group=0,
        )
        return _supervised(spec, config, worker=worker, out=out)


def _supervised(
    spec: RunSpec, config: Config, *, worker: subprocess.Popen[str], out: TextIO
) -> int:
    """Follow the worker's two lines to its end; a stop request stops it and records why."""
    version = result = None
    try:
        for line in worker.stdout or ():
            kind, _, rest = line.strip().partition(" ")
            if kind == "candidate":
                version = rest
            elif kind == "result":
                result = json.loads(rest)
        worker.wait()
    except BaseException:
        _stop(worker)
        _record_death(spec, config, version=version, reason=_stopped_reason())
        raise
    return _report(spec, config, worker=worker, version=version, result=result, out=out)


def _report(
    spec: RunSpec,
    config: Config,
    *,
    worker: subprocess.Popen[str],
    version: str | None,
    result: dict[str, str] | None,
    out: TextIO,
) -> int:
    code = worker.returncode
    if code == 0 and result is not None:
        print(f"{result['version']}: {result['reason']}", file=out)
        print(f"report: {result['report']}", file=out)
        return 0
    if code < 0:
        name = signal.Signals(-code).name
        reason = f"the training process was killed by {name}"
        if -code == signal.SIGKILL:
            reason += " (kill -9, or out of memory)"
        _record_death(spec, config, version=version, reason=reason)
        raise FashiondError(
            f"retrain {version or ''} failed: {reason}".replace("  ", " "),
            hint="the deployed model is unchanged; see 'fashiond models'",
        )
    # The worker printed its own error line; make sure its run is not left a candidate.
    _record_death(spec, config, version=version, reason=f"the worker exited with status {code}")
    return code or 1


def _record_death(spec: RunSpec, config: Config, *, version: str | None, reason: str) -> None:
    """Fail the dead worker's run, unless another run already holds the lock (it sweeps)."""
    store = ModelStore(config.model)
    with contextlib.suppress(FashiondError), run_lock(store.folder):
        db = open_database(spec.db_url, create=True)
        try:
            with db.sessions.begin() as session:
                if version is not None:
                    row = find_version(session, version)
                    if row.status == "candidate":
                        fail_run(session, store, row, reason=reason)
                # With the lock free and our worker dead, any candidate left is from it (or older).
                fail_stale_candidates(session, store, reason=reason)
        finally:
            db.dispose()


def _stop(worker: subprocess.Popen[str]) -> None:
    stop_process(worker, timeout=STOP_GRACE_SECONDS)
    if worker.stdout is not None:
        worker.stdout.close()


def stop_process(process: subprocess.Popen[Any], *, timeout: float) -> None:
    """SIGTERM, which a retrain turns into a clean `failed` record; SIGKILL after `timeout` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_last_stop_signal: list[str] = []


def _stopped_reason() -> str:
    name = _last_stop_signal[-1] if _last_stop_signal else "an interrupt"
    return f"stopped by {name} before finishing (the daemon stopped, or a user)"


@contextlib.contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """SIGTERM and SIGINT become RunStoppedError, so cleanup runs; handlers are restored after."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        _last_stop_signal.append(signal.Signals(signum).name)
        raise RunStoppedError(_stopped_reason())

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def lower_priority() -> None:
    """Nice 19: the worker and its supervisor take only CPU time nobody else wants.

    Linux's autogroup scheduling shares the CPU between sessions first, and a
    nice value only counts inside its own session. So the worker stays in its
    supervisor's session (a process group of its own keeps Ctrl-C away from
    it), and the daemon's scheduler starts the supervisor in the daemon's
    session: there, nice 19 means labeling first.
    """
    current = os.nice(0)
    if current < RETRAIN_NICE:
        os.nice(RETRAIN_NICE - current)


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = WORKER_THREADS
    return env


# --- the worker ----------------------------------------------------------------------


def work(spec: RunSpec, config: Config, *, observer_quiet: bool) -> RunResult:
    """The worker's whole life: lower priority, stop cleanly on SIGTERM, run, report."""
    lower_priority()
    from daemon.progress import ProgressBar

    progress = ProgressBar(quiet=observer_quiet)

    def announce(version: str) -> None:
        print(f"candidate {version}", flush=True)

    try:
        with _stop_signals_raise():
            result = run_retrain(
                config,
                db_url=spec.db_url,
                trigger=spec.trigger,
                limit=spec.limit,
                observer=progress,
                announce=announce,
            )
    finally:
        progress.close()
    body = {
        "version": result.version,
        "status": "promoted" if result.status == "active" else result.status,
        "reason": result.reason,
        "report": str(result.report / "report.json"),
    }
    print(f"result {json.dumps(body)}", flush=True)
    return result
