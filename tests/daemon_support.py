"""What the daemon tests share: tiny models, real PNG bytes, a daemon in a thread, waiting.

The models are untrained MLPs from nnet's own architecture whose last bias is
pushed towards one class, so the label a test expects is certain.
"""

from __future__ import annotations

import dataclasses
import io
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from daemon.commands.run import Daemon, open_daemon
from daemon.config import Config, WatchConfig
from nnet.architectures import MLP, Architecture, build_network
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.params_file import save_params

WAIT = 30.0  # seconds before a wait gives up; a guard against hangs, not a timing


def make_model(
    path: Path, *, label: str | None = "Bag", seed: int = 0, arch: Architecture = MLP
) -> Path:
    """Save a model that answers `label` with near certainty (None: uniform, all to review)."""
    network = build_network(arch.spec, seed=seed)
    last = network.layers[-1]
    last.params["W"][...] = 0.0
    last.params["b"][...] = 0.0
    if label is not None:
        last.params["b"][CLASS_NAMES.index(label)] = 30.0
    meta = TrainingMetadata(arch.name, 0, 0, seed, None, "", "")
    save_params(TrainedModel(network, CLASS_NAMES, InputFormat(), meta), path)
    return path


def png(seed: int = 0, *, size: tuple[int, int] = (28, 28), mode: str = "L") -> bytes:
    rng = np.random.default_rng(seed)
    pixels = np.zeros((size[1], size[0]), dtype=np.uint8)
    pixels[4:-4, 6:-6] = rng.integers(120, 255, size=(size[1] - 8, size[0] - 12), dtype=np.uint8)
    image = Image.fromarray(pixels, "L").convert(mode)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def config_for(root: Path, **changes: object) -> Config:
    """A config under `root` that answers fast: one in-process worker, short waits."""
    watch = changes.pop("watch", WatchConfig(quiet_period_ms=50, rescan_interval=60.0))
    base = Config(
        inbox=root / "inbox",
        labeled_dir=root / "labeled",
        review_dir=root / "review",
        failed_dir=root / "failed",
        database=f"sqlite:///{root / 'fashiond.db'}",
        model=root / "models" / "current.pickle",
        workers=1,
        low_confidence=0.5,
        watch=watch,  # type: ignore[arg-type]
    )
    base = dataclasses.replace(base, batch=dataclasses.replace(base.batch, max_delay_ms=10))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@contextmanager
def running(config: Config) -> Iterator[Daemon]:
    """The real daemon (watchdog observer, SQLite, plugin chain) in a thread."""
    with open_daemon(config) as daemon:
        thread = threading.Thread(target=daemon.service.run, name="test-daemon")
        thread.start()
        try:
            wait_until(lambda: _heartbeat(config).exists())
            yield daemon
        finally:
            daemon.service.stop()
            thread.join(timeout=WAIT)
    assert not thread.is_alive()


def _heartbeat(config: Config) -> Path:
    db = Path(config.database.removeprefix("sqlite:///"))
    return db.with_name(db.stem + ".heartbeat")


def wait_until(condition: Callable[[], object], *, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def rows(config: Config) -> list[sqlite3.Row]:
    db = Path(config.database.removeprefix("sqlite:///"))
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("select * from predictions order by id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def wait_for_rows(config: Config, n: int) -> list[sqlite3.Row]:
    wait_until(lambda: len(rows(config)) >= n and all(r["placed"] for r in rows(config)))
    return rows(config)


def files_under(*folders: Path) -> list[Path]:
    """Every file or link (not folder) under the folders, error notes excluded."""
    found = []
    for folder in folders:
        if folder.exists():
            found += [
                p
                for p in folder.rglob("*")
                if (p.is_symlink() or p.is_file()) and not p.name.endswith(".error.txt")
            ]
    return sorted(found)
