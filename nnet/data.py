"""Fashion-MNIST on disk: finding it, reading it, and checking it is whole.

Two layouts are read:

- the official IDX files (`train-images-idx3-ubyte[.gz]` and friends), which
  Debian's `dataset-fashion-mnist` installs in /usr/share/datasets/fashion-mnist;
- the original project's PNG tree, `fashion_mnist_images/{train,test}/<class index>/*.png`.

nnet imports numpy and the standard library only, so the PNG tree is decoded by
`decode_grayscale_png`, a small zlib-based reader for the non-interlaced 8-bit
PNGs that layout holds. A caller that has Pillow (the daemon) may pass its own
`image_reader` instead, which also covers exotic PNGs this reader refuses.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnet.errors import DataError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
PNG_TREE_NAME = "fashion_mnist_images"
N_CLASSES = 10
IMAGE_SHAPE = (28, 28)
HOW_TO_GET = (
    "install it with 'sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist', "
    "or pass --data PATH to a folder of IDX files or a fashion_mnist_images/ tree"
)

# (images file stem, labels file stem) per split, as the official files are named.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 0x00000803, 0x00000801

# Reads one image file into a uint8 (H, W) grayscale array.
ImageReader = Callable[[Path], np.ndarray]


@dataclass(frozen=True, eq=False)  # eq on arrays is ambiguous; compare fingerprints instead
class Dataset:
    """Both splits as uint8 arrays: images (N, 28, 28), labels (N,) in 0..9."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path

    def fingerprint(self) -> str:
        """Identifies the training data a model saw, so two models can be compared fairly."""
        return fingerprint(self.train_images, self.train_labels)


def fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """A shortened SHA-256 of the images and labels, shapes included."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(images, np.uint8), np.ascontiguousarray(labels, np.uint8)):
        digest.update(repr(array.shape).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()[:16]


# --- finding the data -----------------------------------------------------------------


def find_data(path: Path | None = None) -> Path:
    """The folder to load: `path` if given, else ./fashion_mnist_images, else Debian's.

    An explicit path that holds no data is an error even when a default would,
    since the user asked for that one.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.exists():
            raise DataError(f"Fashion-MNIST folder {path} does not exist", hint=HOW_TO_GET)
        if _layout(path) is None:
            raise DataError(
                f"{path} holds neither the Fashion-MNIST IDX files nor "
                f"{{train,test}}/<class>/*.png",
                hint=HOW_TO_GET,
            )
        return path
    candidates = [Path.cwd() / PNG_TREE_NAME, DEBIAN_DIR]
    for candidate in candidates:
        if candidate.is_dir() and _layout(candidate) is not None:
            return candidate
    raise DataError(
        "Fashion-MNIST not found; looked in " + " and ".join(str(c) for c in candidates),
        hint=HOW_TO_GET,
    )


def _layout(folder: Path) -> str | None:
    if not folder.is_dir():
        return None
    if all(_idx_path(folder, stem) is not None for pair in IDX_FILES.values() for stem in pair):
        return "idx"
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        return "png"
    return None


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


# --- loading --------------------------------------------------------------------------


def load_fashion_mnist(
    path: Path | None = None, *, image_reader: ImageReader | None = None
) -> Dataset:
    """Load both splits from `find_data(path)`; `image_reader` is used for the PNG tree only."""
    folder = find_data(path)
    if _layout(folder) == "idx":
        splits = [_load_idx_split(folder, *IDX_FILES[s]) for s in ("train", "test")]
    else:
        reader = image_reader or read_png
        splits = [_load_png_split(folder / s, reader) for s in ("train", "test")]
    (train_images, train_labels), (test_images, test_labels) = splits
    return Dataset(train_images, train_labels, test_images, test_labels, source=folder)


def _load_idx_split(folder: Path, images_stem: str, labels_stem: str) -> tuple[np.ndarray, ...]:
    images_path, labels_path = _idx_path(folder, images_stem), _idx_path(folder, labels_stem)
    assert images_path is not None and labels_path is not None  # checked by _layout
    images = read_idx(images_path, magic=_IMAGES_MAGIC)
    labels = read_idx(labels_path, magic=_LABELS_MAGIC)
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, "
            f"expected {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}",
            hint=HOW_TO_GET,
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} "
            f"holds {len(labels)} labels",
            hint="the two files come from different downloads; " + HOW_TO_GET,
        )
    _check_labels(labels, labels_path)
    return images, labels


def read_idx(path: Path, *, magic: int) -> np.ndarray:
    """One IDX file (gzipped or not) as a uint8 array, its header checked against its size."""
    data = _read_maybe_gzip(path)
    n_dims = magic & 0xFF
    header_size = 4 + 4 * n_dims
    if len(data) < header_size:
        raise DataError(f"{path} is truncated: too short for an IDX header", hint=HOW_TO_GET)
    (found_magic,) = struct.unpack(">I", data[:4])
    if found_magic != magic:
        raise DataError(
            f"{path} is not an IDX file of the expected kind "
            f"(magic number 0x{found_magic:08x}, expected 0x{magic:08x})",
            hint=HOW_TO_GET,
        )
    dims = struct.unpack(f">{n_dims}I", data[4:header_size])
    expected = header_size + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "corrupt: it has trailing bytes"
        raise DataError(
            f"{path} is {state} ({len(data)} bytes, its header promises {expected})",
            hint=HOW_TO_GET,
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}", hint=HOW_TO_GET) from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        raise DataError(f"{path} is a truncated or corrupt gzip file", hint=HOW_TO_GET) from None


def _check_labels(labels: np.ndarray, where: Path) -> None:
    if len(labels) and int(labels.max()) >= N_CLASSES:
        raise DataError(
            f"{where} holds label {int(labels.max())}; Fashion-MNIST labels are 0 to "
            f"{N_CLASSES - 1}",
            hint=HOW_TO_GET,
        )


def _load_png_split(folder: Path, reader: ImageReader) -> tuple[np.ndarray, np.ndarray]:
    """`folder/<class index>/*.png`, sorted by class then file name so the order is stable."""
    files: list[tuple[int, Path]] = []
    for class_dir in sorted(folder.iterdir()):
        if not class_dir.is_dir():
            continue
        if not class_dir.name.isdigit() or int(class_dir.name) >= N_CLASSES:
            raise DataError(
                f"{class_dir} is not a class folder; expected names 0 to {N_CLASSES - 1}",
                hint="move it out of the data folder",
            )
        label = int(class_dir.name)
        files.extend((label, f) for f in sorted(class_dir.glob("*.png")))
    if not files:
        raise DataError(f"{folder} holds no <class>/*.png images", hint=HOW_TO_GET)
    images = np.empty((len(files), *IMAGE_SHAPE), dtype=np.uint8)
    for i, (_, file) in enumerate(files):
        image = reader(file)
        if image.shape != IMAGE_SHAPE:
            raise DataError(
                f"{file} is {image.shape[1]}x{image.shape[0]}, expected 28x28",
                hint="Fashion-MNIST images are 28x28 grayscale",
            )
        images[i] = image
    labels = np.fromiter((label for label, _ in files), dtype=np.uint8, count=len(files))
    return images, labels


# --- a small PNG reader ----------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def read_png(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return decode_grayscale_png(data)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}", hint="re-extract the image tree") from None


def decode_grayscale_png(data: bytes) -> np.ndarray:
    """Decode a non-interlaced 8-bit PNG to uint8 (H, W) grayscale; ValueError otherwise.

    Colour images are converted with ITU-R 601-2 luma, as Pillow's "L" mode does,
    and alpha is dropped. Palettes, 16-bit samples and interlacing are refused:
    Fashion-MNIST's PNGs use none of them.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    header, idat = _png_chunks(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(
            f"unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})"
        )
    channels = _CHANNELS[colour]
    stride = width * channels
    try:
        raw = zlib.decompress(idat)
    except zlib.error:
        raise ValueError("corrupt PNG image data") from None
    if len(raw) != height * (stride + 1):
        raise ValueError("truncated PNG image data")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    pixels = _unfilter(rows[:, 1:], rows[:, 0], bpp=channels).reshape(height, width, channels)
    if channels <= 2:
        return np.ascontiguousarray(pixels[:, :, 0])
    # Pillow's fixed-point form of 0.299 R + 0.587 G + 0.114 B, rounded.
    rgb = pixels[:, :, :3].astype(np.uint32)
    luma = rgb[:, :, 0] * 19595 + rgb[:, :, 1] * 38470 + rgb[:, :, 2] * 7471 + 0x8000
    return (luma >> 16).astype(np.uint8)


def _png_chunks(data: bytes) -> tuple[bytes, bytes]:
    pos, header, idat = len(_PNG_SIGNATURE), b"", []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError("truncated PNG chunk")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if len(header) != 13 or not idat:
        raise ValueError("PNG without a header or image data")
    return header, b"".join(idat)


def _unfilter(scanlines: np.ndarray, filters: np.ndarray, *, bpp: int) -> np.ndarray:
    """Undo PNG's per-row filters (None, Sub, Up, Average, Paeth)."""
    height, stride = scanlines.shape
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        line = scanlines[y].astype(np.int32)
        kind = int(filters[y])
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + previous) & 0xFF
        elif kind == 1:
            row = _unfilter_sub(line, bpp)
        elif kind in (3, 4):
            row = _unfilter_sequential(line, previous, bpp, paeth=kind == 4)
        else:
            raise ValueError(f"unknown PNG filter type {kind}")
        out[y] = row
        previous = row.astype(np.int32)
    return out


def _unfilter_sub(line: np.ndarray, bpp: int) -> np.ndarray:
    # Each byte adds the decoded byte bpp to its left: a running sum per channel.
    row = line.copy()
    for channel in range(bpp):
        row[channel::bpp] = np.cumsum(line[channel::bpp]) & 0xFF
    return row


def _unfilter_sequential(
    line: np.ndarray, previous: np.ndarray, bpp: int, *, paeth: bool
) -> np.ndarray:
    row = [0] * len(line)
    up = previous.tolist()
    raw = line.tolist()
    for x, value in enumerate(raw):
        left = row[x - bpp] if x >= bpp else 0
        if not paeth:
            row[x] = (value + ((left + up[x]) >> 1)) & 0xFF
            continue
        upper_left = up[x - bpp] if x >= bpp else 0
        p = left + up[x] - upper_left
        pa, pb, pc = abs(p - left), abs(p - up[x]), abs(p - upper_left)
        predictor = left if pa <= pb and pa <= pc else (up[x] if pb <= pc else upper_left)
        row[x] = (value + predictor) & 0xFF
    return np.asarray(row, dtype=np.int32)
