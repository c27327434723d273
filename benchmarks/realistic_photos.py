"""How well the default chain makes real-world-style photos classifiable.

Each Fashion-MNIST test image is turned back into something like the product
photo it came from: negated (a dark item on a light ground), tinted, upscaled
to 300-600 px, placed off-centre on a white, light, tinted or textured
background, some with a soft drop shadow, with sensor noise and JPEG
artefacts. The same model then labels the originals and the photos; the bar
is 80% on the photos. Everything is drawn from one seed, so a run repeats.

    python benchmarks/realistic_photos.py --model models/current.pickle [--count 1000]
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnet.errors import ParamsFileError
from nnet.params_file import load_params
from plugins.api import ModelInput
from plugins.chain import DEFAULT_ENTRIES, Chain

DEFAULT_CHAIN = list(DEFAULT_ENTRIES)
DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")
BACKGROUNDS = ("white", "light", "tinted", "textured")


def load_test_set(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The t10k IDX files, gzipped or not: uint8 images (N, 28, 28) and labels (N,)."""

    def read(stem: str, offset: int) -> np.ndarray:
        for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
            if (folder / name).exists():
                with opener(folder / name, "rb") as f:
                    return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
        raise SystemExit(f"error: {folder / stem} not found (pass --data DIR)")

    images = read("t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28)
    return images, read("t10k-labels-idx1-ubyte", 8)


@dataclass(frozen=True)
class Photo:
    data: bytes  # JPEG
    light_item: bool  # a white garment on a darker ground: the item is lighter, not darker


def realistic_photo(item: np.ndarray, rng: np.random.Generator, *, background: str) -> Photo:
    """One 28x28 Fashion-MNIST image as a JPEG product photo of 300-600 px."""
    width, height = (int(v) for v in rng.integers(300, 601, size=2))
    side = int(min(width, height) * rng.uniform(0.55, 0.85))
    coverage = Image.fromarray(item).resize((side, side), Image.Resampling.BICUBIC)
    alpha = np.asarray(coverage, dtype=np.float32)[..., None] / 255.0
    ground = _background(background, width, height, rng)
    left = int(rng.integers(0, width - side + 1))
    top = int(rng.integers(0, height - side + 1))
    colour = rng.uniform(0, 110, size=3).astype(np.float32)  # a dark or mid-tone garment
    light_item = bool(ground.mean() < 205 and rng.random() < 0.25)
    if light_item:
        colour = rng.uniform(235, 255, size=3).astype(np.float32)  # white, on a grey ground
    if rng.random() < 0.3:  # a soft drop shadow, down and to the right
        _shadow(ground, coverage, left=left, top=top, rng=rng)
    patch = ground[top : top + side, left : left + side]
    ground[top : top + side, left : left + side] = patch * (1 - alpha) + colour * alpha
    ground += rng.normal(0, rng.uniform(1, 6), size=ground.shape).astype(np.float32)
    photo = Image.fromarray(np.clip(ground, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.3:
        photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=int(rng.integers(55, 92)))
    return Photo(buf.getvalue(), light_item)


def _shadow(
    ground: np.ndarray, coverage: Image.Image, *, left: int, top: int, rng: np.random.Generator
) -> None:
    side = coverage.width
    blurred = coverage.filter(ImageFilter.GaussianBlur(side / 40))
    shade = np.asarray(blurred, dtype=np.float32)[..., None] / 255.0 * rng.uniform(0.1, 0.25)
    dx, dy = (int(side * rng.uniform(0.01, 0.04)) for _ in range(2))
    height, width = ground.shape[:2]
    x0, y0 = left + dx, top + dy
    x1, y1 = min(width, x0 + side), min(height, y0 + side)
    ground[y0:y1, x0:x1] *= 1 - shade[: y1 - y0, : x1 - x0]


def _background(kind: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    shape = (height, width, 3)
    if kind == "white":
        return np.full(shape, 255, dtype=np.float32)
    if kind == "light":  # grey paper, lit from one side
        ramp = np.linspace(-1, 1, width, dtype=np.float32) * rng.uniform(0, 12)
        level = rng.uniform(195, 240) + np.broadcast_to(ramp, (height, width))
        return np.repeat(level[..., None], 3, axis=2)
    if kind == "tinted":
        return np.broadcast_to(rng.uniform(185, 250, size=3), shape).astype(np.float32)
    # textured: a light base, soft blotches (lighting, fabric) and a fine grain
    base = rng.uniform(200, 240)
    blotches = Image.fromarray(rng.integers(0, 256, size=(8, 8), dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    soft = (np.asarray(blotches, dtype=np.float32) - 128) / 128 * rng.uniform(8, 18)
    grain = rng.normal(0, rng.uniform(3, 8), size=(height, width)).astype(np.float32)
    return np.repeat((base + soft + grain)[..., None], 3, axis=2)


def _png(item: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(item).save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/current.pickle"))
    parser.add_argument("--data", type=Path, default=DEBIAN_DATA)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, default=None, help="write the photos to this folder")
    args = parser.parse_args()

    try:
        model = load_params(args.model)
    except ParamsFileError as exc:
        raise SystemExit(f"error: {exc} ({exc.hint or 'pass --model FILE'})") from None
    fmt = model.input_format
    chain = Chain.build(
        DEFAULT_CHAIN,
        model_input=ModelInput(size=fmt.image_size, offset=fmt.offset, scale=fmt.scale),
    )
    images, labels = load_test_set(args.data)
    rng = np.random.default_rng(args.seed)
    picked = rng.choice(len(images), size=min(args.count, len(images)), replace=False)
    kinds = [BACKGROUNDS[i % len(BACKGROUNDS)] for i in range(len(picked))]
    photos = [
        realistic_photo(images[i], rng, background=k) for i, k in zip(picked, kinds, strict=True)
    ]
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        for n, (i, photo) in enumerate(zip(picked, photos, strict=True)):
            label = model.class_names[labels[i]].replace("/", "-")
            (args.save / f"{n:04d}-{label}.jpg").write_bytes(photo.data)

    originals = np.stack([chain.run_bytes(_png(images[i]), path=Path("x.png")) for i in picked])
    started = time.perf_counter()
    inputs = np.stack([chain.run_bytes(p.data, path=Path("x.jpg")) for p in photos])
    per_photo = (time.perf_counter() - started) / len(photos) * 1e3
    truth = labels[picked]
    raw = images[picked].astype(np.float32)
    direct = (model.predict_proba(fmt.normalize(raw)).argmax(1) == truth).mean()
    on_originals = (model.predict_proba(originals).argmax(1) == truth).mean()
    hits = model.predict_proba(inputs).argmax(1) == truth
    arch = model.metadata.arch
    print(f"model {args.model} ({arch}), {len(picked)} test images, seed {args.seed}")
    print(f"originals, no preprocessing:       {direct:6.1%}")
    print(f"originals through the chain:       {on_originals:6.1%}")
    print(f"realistic photos through the chain: {hits.mean():6.1%}   (bar: 80%)")
    for kind in BACKGROUNDS:
        mask = np.array([k == kind for k in kinds])
        print(f"  {kind:9s} background: {hits[mask].mean():6.1%}")
    light = np.array([p.light_item for p in photos])
    print(f"  light item on a darker ground: {hits[light].mean():6.1%} of {light.sum()}")
    print(f"ratio photos / originals: {hits.mean() / direct:.3f}")
    print(f"chain time per photo: {per_photo:.1f} ms (wall, noisy on a shared machine)")


if __name__ == "__main__":
    main()
