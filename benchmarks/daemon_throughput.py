"""How fast a running `fashiond run` takes files in, against a minimal single-threaded script.

Figures printed, each measured in this run on this machine:

- bulk: N 28x28 PNGs (real Fashion-MNIST test images) moved into the inbox at
  once, seconds until every one has a committed row; the same files through a
  minimal single-threaded read/hash/decode/invert/predict/insert/move script,
  and the ratio between the two (target: >= 2,500 img/s on 2 cores); then N
  more written straight into the inbox one by one (the writer's pace then
  counts too); CPU per file of the daemon's process and of its workers;
- latency: files written one at a time, 100 ms apart, from each file's close
  to its committed row (targets: p50 <= 100 ms, p99 <= 300 ms);
- photos: 512x512 RGB PNGs (target: >= 250 img/s);
- idle memory: the daemon's RSS with the model loaded (target: <= 150 MB).

    python benchmarks/daemon_throughput.py                 # the full run
    python benchmarks/daemon_throughput.py --bulk 2000 --latency 50 --photos 200   # quick
    python benchmarks/daemon_throughput.py --arch cnn      # serving the CNN
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nnet.architectures import build_network, get_architecture  # noqa: E402
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata  # noqa: E402
from nnet.params_file import load_params, save_params  # noqa: E402

FASHION_TEST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


# --- inputs ---------------------------------------------------------------------------


def fashion_images(n: int) -> np.ndarray:
    if FASHION_TEST.exists():
        raw = gzip.decompress(FASHION_TEST.read_bytes())
        images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    else:  # still runs without the data set, on blobs
        rng = np.random.default_rng(0)
        images = (rng.random((1000, 28, 28)) * 255).astype(np.uint8)
    return images[np.arange(n) % len(images)]


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def unique(png: bytes, n: int) -> bytes:
    """The same pixels with a tEXt chunk numbering the copy, so every file has its own hash."""
    body = b"tEXt" + b"copy\x00" + str(n).encode()
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return png[:33] + chunk + png[33:]  # after the signature (8) and IHDR (25)


def small_pngs(n: int) -> list[bytes]:
    return [unique(png_bytes(Image.fromarray(img)), i) for i, img in enumerate(fashion_images(n))]


def photo_pngs(n: int, *, distinct: int = 40) -> list[bytes]:
    """512x512 RGB: a garment enlarged onto a light, shaded background, like a product photo."""
    bases = []
    yy, xx = np.mgrid[0:512, 0:512]
    shade = (230 - (yy + xx) / 64).astype(np.uint8)
    for img in fashion_images(distinct):
        garment = np.asarray(Image.fromarray(img).resize((400, 400), Image.Resampling.BILINEAR))
        gray = shade.copy()
        region = gray[56:456, 56:456]
        region[...] = np.where(garment > 20, 255 - garment, region)
        rgb = np.stack([gray, (gray * 0.9).astype(np.uint8), (gray * 0.8).astype(np.uint8)], -1)
        bases.append(png_bytes(Image.fromarray(rgb, "RGB")))
    return [unique(bases[i % distinct], i) for i in range(n)]


# --- the daemon -------------------------------------------------------------------------


class Daemon:
    def __init__(self, root: Path, *, workers: int | None, batch_size: int | None = None) -> None:
        self.root = root
        self.inbox = root / "inbox"
        self.db = root / "fashiond.db"
        config = root / "config.yaml"
        config.write_text(
            "inbox: inbox\ndatabase: sqlite:///fashiond.db\nmodel: model.pickle\n"
            f"low_confidence: 0.0\nlog_level: WARNING\nworkers: {workers or 'null'}\n"
            + (f"batch:\n  max_size: {batch_size}\n" if batch_size else ""),
            encoding="utf-8",
        )
        self.log = (root / "daemon.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(config)],
            cwd=REPO,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while not (root / "fashiond.heartbeat").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"daemon did not start: {(root / 'daemon.log').read_text()}")
            time.sleep(0.05)

    def rows(self) -> int:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return conn.execute("select count(*) from predictions").fetchone()[0]

    def wait_for(self, n: int, *, timeout: float = 600) -> float:
        deadline = time.monotonic() + timeout
        while self.rows() < n:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"only {self.rows()} of {n} recorded")
            time.sleep(0.02)
        return time.perf_counter()

    def rss_mb(self) -> tuple[float, float]:
        """(the daemon process's RSS, the PSS of it plus its forkserver and workers).

        PSS, not RSS, for the sum: the workers fork from one server and share its pages."""
        pids = [self.proc.pid, *map(int, self._children())]
        return _rss(self.proc.pid), sum(_rss(pid, field="Pss:") for pid in pids)

    def cpu_seconds(self) -> tuple[float, float]:
        """(the daemon process, its worker processes): user + system CPU so far."""
        tick = os.sysconf("SC_CLK_TCK")

        def cpu(pid: int) -> float:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return 0.0
            return (int(fields[11]) + int(fields[12])) / tick

        return cpu(self.proc.pid), sum(cpu(int(c)) for c in self._children())

    def _children(self) -> list[str]:
        """Every descendant: the workers are children of the forkserver, a child of the daemon."""
        found, todo = [], [str(self.proc.pid)]
        while todo:
            out = subprocess.run(["pgrep", "-P", todo.pop()], capture_output=True, text=True)
            found += out.stdout.split()
            todo += out.stdout.split()
        return found

    def stop(self) -> float:
        started = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.log.close()
        if code != 0:
            print(f"  (daemon exited {code})")
        return time.perf_counter() - started


def _rss(pid: int, *, field: str = "VmRSS:") -> float:
    source = "smaps_rollup" if field == "Pss:" else "status"
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def drop(inbox: Path, files: list[bytes], prefix: str) -> None:
    for i, data in enumerate(files):
        (inbox / f"{prefix}{i:05d}.png").write_bytes(data)


# --- the baseline ---------------------------------------------------------------------------


def baseline(files: list[bytes], root: Path, model_path: Path) -> float:
    """Read, hash, decode, invert, predict, insert and move, in one thread, 64 at a time."""
    inbox, out = root / "base_inbox", root / "base_out"
    inbox.mkdir()
    out.mkdir()
    drop(inbox, files, "b")
    model = load_params(model_path)
    conn = sqlite3.connect(root / "base.db")
    conn.execute("pragma journal_mode=wal")
    conn.execute("create table p (id integer primary key, name, path, sha, label, conf)")
    started = time.perf_counter()
    names = sorted(p.name for p in inbox.iterdir())
    for start in range(0, len(names), 64):
        chunk = names[start : start + 64]
        arrays, hashes = [], []
        for name in chunk:
            data = (inbox / name).read_bytes()
            hashes.append(hashlib.sha256(data).hexdigest())
            pixels = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32)
            arrays.append(((255 - pixels) - 127.5) / 127.5)
        probs = model.predict_proba(np.stack(arrays))
        best = probs.argmax(axis=1)
        rows = []
        for name, sha, b, p in zip(chunk, hashes, best, probs, strict=True):
            rows.append((name, str(out / name), sha, CLASS_NAMES[b], float(p[b])))
        with conn:
            conn.executemany(
                "insert into p (name, path, sha, label, conf) values (?,?,?,?,?)", rows
            )
        for name in chunk:
            (inbox / name).rename(out / name)
    elapsed = time.perf_counter() - started
    conn.close()
    return len(files) / elapsed


# --- the figures ----------------------------------------------------------------------------


def bench_bulk(daemon: Daemon, files: list[bytes], prefix: str, *, rename: bool) -> float:
    """`rename`: written to a folder beside the inbox first, then moved in all at once (as
    `mv staging/* inbox/` does), so the figure is the daemon's pace and not this writer's.
    Otherwise written straight into the inbox (as `cp` does), which on a busy machine is
    often slower than the daemon."""
    staging = daemon.root / f"staging-{prefix}"
    if rename:
        staging.mkdir()
        drop(staging, files, prefix)
        names = sorted(p.name for p in staging.iterdir())
        time.sleep(0.5)  # older than the quiet period: complete as soon as seen
    before = daemon.rows()
    main_cpu, worker_cpu = daemon.cpu_seconds()
    started = time.perf_counter()
    if rename:
        for name in names:
            (staging / name).rename(daemon.inbox / name)
    else:
        drop(daemon.inbox, files, prefix)
    done = daemon.wait_for(before + len(files))
    main_after, worker_after = daemon.cpu_seconds()
    n = len(files)
    print(
        f"  CPU per file: daemon process {(main_after - main_cpu) / n * 1e6:.0f} us, "
        f"workers {(worker_after - worker_cpu) / n * 1e6:.0f} us"
    )
    return n / (done - started)


def bench_latency(daemon: Daemon, files: list[bytes], gap: float = 0.1) -> list[float]:
    conn = sqlite3.connect(f"file:{daemon.db}?mode=ro", uri=True)
    last_id = conn.execute("select coalesce(max(id), 0) from predictions").fetchone()[0]
    closed: dict[str, float] = {}
    latencies: list[float] = []
    next_drop, i = time.perf_counter(), 0
    deadline = time.perf_counter() + len(files) * gap + 30
    while len(latencies) < len(files) and time.perf_counter() < deadline:
        now = time.perf_counter()
        if i < len(files) and now >= next_drop:
            name = f"lat{i:04d}.png"
            with (daemon.inbox / name).open("wb") as f:
                f.write(files[i])
            closed[name] = time.perf_counter()
            i += 1
            next_drop += gap
        for row_id, name in conn.execute(
            "select id, filename from predictions where id > ? order by id", (last_id,)
        ):
            seen = time.perf_counter()
            last_id = row_id
            if name in closed:
                latencies.append((seen - closed[name]) * 1000)
        time.sleep(0.001)
    conn.close()
    return latencies


def make_model(path: Path, arch: str = "mlp") -> None:
    """Untrained weights: the figures are about speed, which training does not change."""
    network = build_network(get_architecture(arch).spec, seed=0)
    meta = TrainingMetadata(arch, 0, 0, 0, None, "", "")
    save_params(TrainedModel(network, CLASS_NAMES, InputFormat(), meta), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--photos", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=None, help="daemon workers (null = cores)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch.max_size (default 64)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--arch", choices=("mlp", "cnn"), default="mlp", help="the model served")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="fashiond-bench-"))
    try:
        make_model(root / "model.pickle", args.arch)
        print(f"preparing {args.bulk} small and {args.photos} photo PNGs ...", flush=True)
        small = small_pngs(2 * args.bulk + args.latency)
        bulk_files, bulk_written = small[: args.bulk], small[args.bulk : 2 * args.bulk]
        latency_files = small[2 * args.bulk :]
        photos = photo_pngs(args.photos) if args.photos else []

        if not args.no_baseline and args.bulk:
            base = baseline(bulk_files, root, root / "model.pickle")
            print(f"baseline (single-threaded script): {base:8.0f} img/s", flush=True)
        daemon = Daemon(root, workers=args.workers, batch_size=args.batch_size)
        try:
            time.sleep(1.0)
            idle_main, idle_all = daemon.rss_mb()
            print(f"idle RSS, model loaded:      {idle_main:8.1f} MB", end="")
            print(f" (PSS with forkserver and workers: {idle_all:.1f} MB)")
            if args.bulk:
                rate = bench_bulk(daemon, bulk_files, "bulk", rename=True)
                ratio = f"  = {rate / base:.2f}x the baseline" if not args.no_baseline else ""
                print(
                    f"bulk {args.bulk} 28x28 PNGs moved in:   {rate:8.0f} img/s{ratio}", flush=True
                )
                rate = bench_bulk(daemon, bulk_written, "written", rename=False)
                print(f"bulk {args.bulk} 28x28 PNGs written in: {rate:8.0f} img/s", flush=True)
            if args.latency:
                time.sleep(1.0)
                lat = bench_latency(daemon, latency_files)
                q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
                print(
                    f"latency close->row ({len(lat)}):   p50 {q[49]:6.1f} ms  p99 {q[98]:6.1f} ms"
                    f"  max {max(lat):6.1f} ms",
                    flush=True,
                )
            if photos:
                rate = bench_bulk(daemon, photos, "photo", rename=True)
                print(f"photos {args.photos} 512x512 RGB:  {rate:8.0f} img/s", flush=True)
            busy_main, busy_all = daemon.rss_mb()
            print(f"RSS after the runs:          {busy_main:8.1f} MB", end="")
            print(f" (PSS with forkserver and workers: {busy_all:.1f} MB)")
        finally:
            took = daemon.stop()
            print(f"SIGTERM to exit:             {took:8.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
