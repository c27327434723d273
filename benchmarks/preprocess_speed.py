"""How long the default preprocessing chain takes per image, small and large.

Targets: under 0.2 ms for a 28x28 PNG, under 30 ms for a 3000x4000 RGB JPEG.
Each figure is the best of several rounds (the least disturbed by other
processes), in CPU time and wall time, next to a baseline measured in the
same run: Pillow just opening and decoding the same bytes.

    python benchmarks/preprocess_speed.py
"""

from __future__ import annotations

import gzip
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugins.chain import DEFAULT_ENTRIES, Chain

DEFAULT_CHAIN = list(DEFAULT_ENTRIES)
DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")
SLOW_CHAIN = [(n, {"fast": False} if n == "resize" else o) for n, o in DEFAULT_CHAIN]


def best_of(action: Callable[[], object], *, rounds: int, repeat: int) -> tuple[float, float]:
    """(CPU, wall) seconds per call, each the best round's average."""
    action()
    cpu = wall = float("inf")
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(repeat):
            action()
        cpu = min(cpu, (time.process_time() - c0) / repeat)
        wall = min(wall, (time.perf_counter() - w0) / repeat)
    return cpu, wall


def fashion_mnist_png() -> bytes | None:
    """The first Fashion-MNIST test image as a PNG: what most 28x28 inputs look like."""
    path = DEBIAN_DATA / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        return None
    with gzip.open(path) as f:
        pixels = np.frombuffer(f.read(16 + 784), dtype=np.uint8, offset=16).reshape(28, 28)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def small_png() -> bytes:
    """A 28x28 item that does not fill the frame, so crop does all its work."""
    pixels = np.zeros((28, 28), dtype=np.uint8)
    yy, xx = np.mgrid[:28, :28]
    pixels[(abs(xx - 14) < 8) & (yy > 1)] = 180  # a dress-like block touching top and bottom
    pixels[3:10, 3:25] = 220
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def big_jpeg(seed: int = 0) -> bytes:
    """A 3000x4000 product photo: a dark item on a lit, grainy, light background."""
    rng = np.random.default_rng(seed)
    width, height = 3000, 4000
    ramp = np.linspace(225, 245, width, dtype=np.float32)
    ground = np.broadcast_to(ramp, (height, width)).copy()
    ground[800:3300, 700:2300] = 60
    ground += rng.normal(0, 4, size=(height, width)).astype(np.float32)
    rgb = np.clip(ground, 0, 255).astype(np.uint8)[..., None] * np.array([1, 1, 1], np.uint8)
    rgb[800:3300, 700:2300, 2] = 110  # a blue garment
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def report(label: str, figures: tuple[float, float], target_ms: float | None = None) -> None:
    cpu, wall = (v * 1e3 for v in figures)
    target = ""
    if target_ms is not None:
        target = f"   target < {target_ms} ms: {'ok' if cpu < target_ms else 'MISSED'}"
    print(f"  {label:44s} {cpu:8.3f} ms cpu {wall:8.3f} ms wall{target}")


def main() -> None:
    chain = Chain.build(DEFAULT_CHAIN)
    slow = Chain.build(SLOW_CHAIN)
    path = Path("bench")

    for title, small in (
        ("28x28 PNG, a Fashion-MNIST test image (already framed)", fashion_mnist_png()),
        ("28x28 PNG, an item to crop, pad and rescale", small_png()),
    ):
        if small is None:
            continue
        print(title)
        floor = best_of(lambda data=small: decode(data), rounds=7, repeat=2000)
        fast = best_of(lambda data=small: chain.run_bytes(data, path=path), rounds=7, repeat=2000)
        report("Pillow open + decode (baseline)", floor)
        report("default chain", fast, target_ms=0.2)
        print(f"  chain / decode: {fast[0] / floor[0]:.2f}x")

    big = big_jpeg()
    print(f"3000x4000 RGB JPEG ({len(big) / 1e6:.1f} MB)")
    floor = best_of(lambda: decode(big), rounds=3, repeat=2)
    fast = best_of(lambda: chain.run_bytes(big, path=path), rounds=5, repeat=3)
    full = best_of(lambda: slow.run_bytes(big, path=path), rounds=2, repeat=1)
    report("Pillow full decode (baseline)", floor)
    report("default chain (draft + reduce)", fast, target_ms=30)
    report("chain with resize fast: false", full)
    print(
        f"  chain / full decode: {fast[0] / floor[0]:.2f}x; fast path speed-up: "
        f"{full[0] / fast[0]:.1f}x"
    )


if __name__ == "__main__":
    main()
