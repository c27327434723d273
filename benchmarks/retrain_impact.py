"""Labeling throughput while a retrain runs, as a share of idle throughput (target: >= 50%).

It starts the real daemon (`fashiond run`) on a temporary inbox, drops a
batch of Fashion-MNIST test images in and times how long they take to be
labeled (idle), then starts `fashiond retrain` and drops another batch while
it trains (busy), then stops the retrain and times a third batch (idle
again). Every phase uses the same daemon, model and number of files; the
figure is busy / the mean of the two idle phases, which evens out a machine
whose other load drifts. The retrain must still be running when
the busy batch is done, or the figure would flatter it: then the run says so.

    python benchmarks/retrain_impact.py [--images 400] [--limit 60000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from daemon.db.database import open_database
from daemon.db.schema import ModelVersion, Prediction
from nnet.architectures import get_architecture
from nnet.data import Dataset, load_fashion_mnist
from nnet.params_file import save_params
from nnet.training import train_model

DEADLINE = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400, help="files per phase")
    parser.add_argument("--limit", type=int, default=60000, help="retrain's images per split")
    parser.add_argument("--epochs", type=int, default=2, help="retrain epochs")
    args = parser.parse_args()
    data = load_fashion_mnist(None)
    with tempfile.TemporaryDirectory(prefix="fashiond-bench-") as tmp:
        home = Path(tmp)
        _setup(home, data, epochs=args.epochs)
        daemon = _start_daemon(home)
        try:
            _wait(
                lambda: _count(home) is not None and (home / "fashiond.heartbeat").exists(),
                "the daemon to start",
            )
            _drop(home, data, start=0, count=20)  # warm-up: imports, first batch
            _wait(lambda: _count(home) == 20, "the warm-up files")
            n = args.images
            idle_before = _phase(home, data, start=20, count=n)
            retrain = _start_retrain(home, limit=args.limit)
            try:
                _wait(lambda: _candidate_started(home), "the retrain to start training")
                busy = _phase(home, data, start=20 + n, count=n)
                still_running = retrain.poll() is None
            finally:
                if retrain.poll() is None:
                    retrain.send_signal(signal.SIGTERM)
                retrain.wait(timeout=60)
            idle_after = _phase(home, data, start=20 + 2 * n, count=n)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
    idle = (idle_before + idle_after) / 2
    ratio = busy / idle
    print(f"idle labeling:        {idle:8.1f} images/s (mean of {idle_before:.1f} before")
    print(f"                                 and {idle_after:.1f} after the retrain)")
    print(f"during a retrain:     {busy:8.1f} images/s ({args.images} images)")
    print(f"ratio busy / idle:    {ratio:8.2f}  (target >= 0.50)")
    print(f"retrain still running at the end of the busy phase: {still_running}")
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    return 0 if ratio >= 0.5 and still_running else 1


def _setup(home: Path, data: Dataset, *, epochs: int) -> None:
    model, _ = train_model(
        get_architecture("mlp"),
        train_images=data.train_images[:5000],
        train_labels=data.train_labels[:5000],
        test_images=data.test_images[:1000],
        test_labels=data.test_labels[:1000],
        epochs=1,
    )
    save_params(model, home / "models" / "current.pickle")
    (home / "inbox").mkdir()
    (home / "config.yaml").write_text(
        f"data: {data.source}\nlog_level: WARNING\nretrain:\n  epochs: {epochs}\n"
    )


def _start_daemon(home: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "daemon", "run", "--config", str(home / "config.yaml")], cwd=home
    )


def _start_retrain(home: Path, *, limit: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "daemon", "retrain", "--config", str(home / "config.yaml")]
    # It is stopped at the end, and says so on stderr: not worth printing here.
    return subprocess.Popen(
        [*argv, "--quiet", "--limit", str(limit)], cwd=home, stderr=subprocess.DEVNULL
    )


def _phase(home: Path, data: Dataset, *, start: int, count: int) -> float:
    """Images per second from the first file dropped to the last one recorded."""
    before = _count(home) or 0
    began = time.perf_counter()
    _drop(home, data, start=start, count=count)
    _wait(lambda: (_count(home) or 0) >= before + count, f"{count} images to be labeled")
    return count / (time.perf_counter() - began)


def _drop(home: Path, data: Dataset, *, start: int, count: int) -> None:
    """Each file is written beside the inbox and renamed in, so it arrives complete."""
    staging = home / "staging"
    staging.mkdir(exist_ok=True)
    for i in range(start, start + count):
        pixels = data.test_images[i % len(data.test_images)]
        path = staging / f"item{i:05d}.png"
        Image.fromarray(255 - pixels).resize((112, 112)).save(path)  # light background, larger
        path.replace(home / "inbox" / path.name)


def _count(home: Path) -> int | None:
    if not (home / "fashiond.db").exists():
        return None
    db = open_database(f"sqlite:///{home}/fashiond.db")
    try:
        with db.sessions.begin() as session:
            return session.scalar(select(func.count()).select_from(Prediction))
    finally:
        db.dispose()


def _candidate_started(home: Path) -> bool:
    """The worker has reserved its version: it is past its start-up and about to load data."""
    db = open_database(f"sqlite:///{home}/fashiond.db")
    try:
        with db.sessions.begin() as session:
            status = select(ModelVersion.id).where(ModelVersion.status == "candidate")
            return session.scalar(status) is not None
    finally:
        db.dispose()


def _wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
