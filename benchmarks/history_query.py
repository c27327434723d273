"""How fast history queries are on a 1,000,000-row history.

Builds the database once with sqlite3's executemany (parameters, no string
formatting of values), then times, in-process through `daemon.cli.main` and
through the real CLI:

    fashiond history --label Bag --limit 50     (the bar: < 200 ms)
    fashiond stats                              (the bar: < 2 s)

The CLI figure includes Python's start-up and imports, so it is printed next
to `fashiond --version` measured the same way, as the baseline.

    python benchmarks/history_query.py [--rows N] [--db PATH] [--repeat K]

`--db PATH` keeps the built database (and reuses it when it already exists).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from daemon.cli import main
from daemon.db.database import open_database
from nnet.model import CLASS_NAMES

BATCH = 50_000
STATUSES = ("labeled",) * 85 + ("review",) * 12 + ("failed",) * 2 + ("duplicate",)


def build(path: Path, rows: int, *, seed: int = 0) -> float:
    """Create the schema through fashiond itself, then bulk-insert `rows`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    open_database(f"sqlite:///{path}", create=True).dispose()
    rng = random.Random(seed)
    pool = [_probabilities(rng) for _ in range(2000)]
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        insert = (
            "INSERT INTO predictions (id, filename, path, sha256, label, confidence, "
            "probabilities, model_version, status, error, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for start in range(1, rows + 1, BATCH):
            stop = min(rows + 1, start + BATCH)
            connection.executemany(insert, _rows(rng, pool, start, stop, rows))
            connection.commit()
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()
    return time.perf_counter() - started


def _probabilities(rng: random.Random) -> tuple[str, str, float]:
    weights = [rng.random() ** 4 for _ in CLASS_NAMES]
    total = sum(weights)
    probabilities = [round(w / total, 6) for w in weights]
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return json.dumps(probabilities), CLASS_NAMES[best], probabilities[best]


def _rows(rng: random.Random, pool: list, start: int, stop: int, rows: int) -> Iterator[tuple]:
    first = datetime(2026, 1, 1)
    span = timedelta(days=365).total_seconds()
    for i in range(start, stop):
        probabilities, label, confidence = pool[rng.randrange(len(pool))]
        status = STATUSES[rng.randrange(len(STATUSES))]
        created = first + timedelta(seconds=span * i / rows)
        version = f"v{1 + 4 * i // rows:04d}"
        name = f"IMG_{i:07d}.png"
        if status == "failed":
            yield (
                i,
                name,
                f"failed/{name}",
                f"{i:064x}",
                None,
                None,
                None,
                version,
                status,
                "open: cannot identify image file",
                created.isoformat(" ", "microseconds"),
            )
            continue
        yield (
            i,
            name,
            f"labeled/{label.replace('/', '_')}/{name}",
            f"{i:064x}",
            label,
            confidence,
            probabilities,
            version,
            status,
            None,
            created.isoformat(" ", "microseconds"),
        )


def timed(call: Callable[[], object], *, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def in_process(*argv: str) -> Callable[[], object]:
    def call() -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            status = main(list(argv))
        assert status == 0, argv

    return call


def via_cli(*argv: str) -> Callable[[], object]:
    def call() -> None:
        subprocess.run([sys.executable, "-m", "daemon", *argv], check=True, capture_output=True)

    return call


def report(name: str, times: list[float], *, bar: float | None = None) -> None:
    best, median = min(times), statistics.median(times)
    verdict = (
        "" if bar is None else ("  ok" if median < bar else f"  OVER the {bar * 1000:.0f} ms bar")
    )
    print(f"  {name:<46} best {best * 1000:8.1f} ms   median {median * 1000:8.1f} ms{verdict}")


def run(db_path: Path, *, rows: int, repeat: int) -> None:
    if db_path.exists():
        print(f"reusing {db_path}")
    else:
        seconds = build(db_path, rows)
        print(f"built {rows:,} rows in {seconds:.1f} s ({db_path.stat().st_size / 1e6:.0f} MB)")
    url = f"sqlite:///{db_path}"
    print("in-process (daemon.cli.main, output discarded):")
    history = ("history", "--db", url, "--label", "Bag", "--limit", "50")
    report("history --label Bag --limit 50", timed(in_process(*history), repeat=repeat), bar=0.2)
    report(
        "history --label Bag --min-confidence 0.9",
        timed(in_process(*history, "--min-confidence", "0.9"), repeat=repeat),
    )
    report(
        "history --since 2026-12-20 --status review",
        timed(
            in_process("history", "--db", url, "--since", "2026-12-20", "--status", "review"),
            repeat=repeat,
        ),
    )
    report(
        "history --sort filename",
        timed(in_process("history", "--db", url, "--sort", "filename"), repeat=repeat),
    )
    report(
        "history --name 'IMG_00001*' (GLOB: a scan)",
        timed(in_process("history", "--db", url, "--name", "IMG_00001*"), repeat=repeat),
    )
    report("stats", timed(in_process("stats", "--db", url), repeat=repeat), bar=2.0)
    report(
        "stats --label Bag",
        timed(in_process("stats", "--db", url, "--label", "Bag"), repeat=repeat),
    )
    report(
        "stats --status review",
        timed(in_process("stats", "--db", url, "--status", "review"), repeat=repeat),
    )
    print("through the CLI (a new python process each time):")
    report("fashiond --version (baseline: start-up)", timed(via_cli("--version"), repeat=repeat))
    report("fashiond history --label Bag --limit 50", timed(via_cli(*history), repeat=repeat))
    report("fashiond stats", timed(via_cli("stats", "--db", url), repeat=repeat))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="keep the database here (reused if present)")
    parser.add_argument("--repeat", type=int, default=5)
    return parser.parse_args()


if __name__ == "__main__":
    options = parse_args()
    if options.db is not None:
        run(options.db.resolve(), rows=options.rows, repeat=options.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="history-bench-") as folder:
            run(Path(folder) / "history.db", rows=options.rows, repeat=options.repeat)
