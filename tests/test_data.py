from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nnet.data
from daemon.dataset import load_dataset
from nnet.data import decode_grayscale_png, find_data, load_fashion_mnist
from nnet.errors import DataError
from tests.idx_files import idx_bytes, write_idx_dir


def small_arrays(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


@pytest.fixture
def small_dir(tmp_path: Path) -> Path:
    return write_idx_dir(tmp_path / "idx", train=small_arrays(50), test=small_arrays(20, seed=1))


@pytest.mark.real_data
def test_real_fashion_mnist_loads_whole_and_balanced(fashion_mnist_dir: Path) -> None:
    data = load_fashion_mnist(fashion_mnist_dir)
    assert data.train_images.shape == (60000, 28, 28)
    assert data.test_images.shape == (10000, 28, 28)
    assert data.train_images.dtype == np.uint8 and data.train_labels.dtype == np.uint8
    assert np.bincount(data.train_labels).tolist() == [6000] * 10
    assert np.bincount(data.test_labels).tolist() == [1000] * 10
    assert data.source == fashion_mnist_dir
    assert len(data.fingerprint()) == 16
    assert data.fingerprint() == load_fashion_mnist(fashion_mnist_dir).fingerprint()


def test_gzipped_and_raw_idx_load_the_same(tmp_path: Path) -> None:
    train, test = small_arrays(30), small_arrays(10, seed=1)
    gz = load_fashion_mnist(write_idx_dir(tmp_path / "gz", train=train, test=test))
    raw = load_fashion_mnist(write_idx_dir(tmp_path / "raw", train=train, test=test, gz=False))
    for a, b, original in (
        (gz.train_images, raw.train_images, train[0]),
        (gz.test_labels, raw.test_labels, test[1]),
    ):
        np.testing.assert_array_equal(a, original)
        np.testing.assert_array_equal(b, original)
    assert gz.fingerprint() == raw.fingerprint()


def test_fingerprint_changes_with_one_label(small_dir: Path) -> None:
    data = load_fashion_mnist(small_dir)
    labels = data.train_labels.copy()
    labels[0] = (labels[0] + 1) % 10
    assert nnet.data.fingerprint(data.train_images, labels) != data.fingerprint()


def _rewrite(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(gzip.compress(data))
    return path


@pytest.mark.parametrize(
    ("name", "make_bytes", "expected"),
    [
        (
            "train-images-idx3-ubyte.gz",
            lambda: idx_bytes(small_arrays(50)[0])[:-100],
            "truncated",
        ),
        (
            "train-images-idx3-ubyte.gz",
            lambda: idx_bytes(small_arrays(50)[0]) + b"extra",
            "trailing bytes",
        ),
        ("t10k-labels-idx1-ubyte.gz", lambda: b"\x00\x00", "too short"),
        (
            "t10k-labels-idx1-ubyte.gz",
            lambda: idx_bytes(small_arrays(20)[0]),  # an images file where labels belong
            "magic number",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            lambda: idx_bytes(np.full(50, 10, dtype=np.uint8)),
            "label 10",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            lambda: idx_bytes(np.zeros(49, dtype=np.uint8)),
            "50 images but",
        ),
        (
            "train-images-idx3-ubyte.gz",
            lambda: idx_bytes(np.zeros((50, 32, 32), dtype=np.uint8)),
            "32x32",
        ),
    ],
)
def test_bad_idx_file_is_a_data_error_naming_the_file(
    small_dir: Path, name: str, make_bytes: object, expected: str
) -> None:
    assert callable(make_bytes)
    path = _rewrite(small_dir, name, make_bytes())
    with pytest.raises(DataError) as error:
        load_fashion_mnist(small_dir)
    assert expected in str(error.value)
    assert str(small_dir) in str(error.value)
    assert "dataset-fashion-mnist" in (error.value.hint or "")
    assert path.name.removesuffix(".gz") in str(error.value)


def test_truncated_gzip_stream_is_a_data_error(small_dir: Path) -> None:
    path = small_dir / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="truncated or corrupt gzip") as error:
        load_fashion_mnist(small_dir)
    assert str(path) in str(error.value)


# --- where the data is looked for ------------------------------------------------------


def test_explicit_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as error:
        find_data(tmp_path / "nowhere")
    assert "apt-get install -y dataset-fashion-mnist" in (error.value.hint or "")


def test_explicit_folder_without_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds neither"):
        find_data(tmp_path)


def test_local_png_tree_comes_before_the_debian_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_png_tree(tmp_path / "fashion_mnist_images", n_per_class=1)
    monkeypatch.chdir(tmp_path)
    assert find_data() == tmp_path / "fashion_mnist_images"


def test_nothing_found_says_where_it_looked_and_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(nnet.data, "DEBIAN_DIR", tmp_path / "debian")
    with pytest.raises(DataError) as error:
        find_data()
    message = str(error.value)
    assert str(tmp_path / "fashion_mnist_images") in message
    assert str(tmp_path / "debian") in message
    assert "sudo apt-get install -y dataset-fashion-mnist" in (error.value.hint or "")


# --- the original project's PNG tree ----------------------------------------------------


def write_png_tree(root: Path, *, n_per_class: int, seed: int = 0) -> dict[str, np.ndarray]:
    """fashion_mnist_images/{train,test}/<class>/NNNN.png, as the original project has it."""
    rng = np.random.default_rng(seed)
    written = {}
    for split in ("train", "test"):
        images = []
        for label in range(10):
            folder = root / split / str(label)
            folder.mkdir(parents=True)
            for i in range(n_per_class):
                pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
                Image.fromarray(pixels, mode="L").save(folder / f"{i:04d}.png")
                images.append(pixels)
        written[split] = np.stack(images)
    return written


def test_png_tree_loads_with_the_builtin_decoder_and_with_pillow(tmp_path: Path) -> None:
    written = write_png_tree(tmp_path / "fashion_mnist_images", n_per_class=3)
    own = load_fashion_mnist(tmp_path / "fashion_mnist_images")
    pillow = load_dataset(tmp_path / "fashion_mnist_images")
    for data in (own, pillow):
        np.testing.assert_array_equal(data.train_images, written["train"])
        np.testing.assert_array_equal(data.test_images, written["test"])
        assert data.train_labels.tolist() == [label for label in range(10) for _ in range(3)]


def test_png_tree_with_a_stray_folder_or_a_wrong_size(tmp_path: Path) -> None:
    root = tmp_path / "fashion_mnist_images"
    write_png_tree(root, n_per_class=1)
    (root / "train" / "extra").mkdir()
    with pytest.raises(DataError, match="not a class folder"):
        load_fashion_mnist(root)
    (root / "train" / "extra").rmdir()
    Image.new("L", (20, 28)).save(root / "test" / "3" / "small.png")
    with pytest.raises(DataError, match=r"small\.png is 20x28"):
        load_fashion_mnist(root)


def _png(pixels: np.ndarray, *, colour: int, filters: list[int]) -> bytes:
    """A PNG encoded by hand, each row with the given filter type, to exercise every filter."""
    height, width = pixels.shape[:2]
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]
    rows = pixels.reshape(height, width * bpp).astype(np.int64)
    out = bytearray()
    previous = np.zeros(width * bpp, dtype=np.int64)
    for y, kind in enumerate(filters):
        line = rows[y]
        left = np.concatenate([np.zeros(bpp, np.int64), line[:-bpp]])
        upper_left = np.concatenate([np.zeros(bpp, np.int64), previous[:-bpp]])
        p = left + previous - upper_left
        pa, pb, pc = abs(p - left), abs(p - previous), abs(p - upper_left)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, previous, upper_left))
        predictor = [0, left, previous, (left + previous) // 2, paeth][kind]
        out += bytes([kind]) + bytes(((line - predictor) % 256).astype(np.uint8))
        previous = line

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(out)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("colour", "channels"), [(0, 1), (2, 3), (4, 2), (6, 4)])
def test_builtin_decoder_undoes_every_filter_like_pillow(colour: int, channels: int) -> None:
    rng = np.random.default_rng(colour)
    shape = (10, 7) if channels == 1 else (10, 7, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    data = _png(pixels, colour=colour, filters=[0, 1, 2, 3, 4, 4, 3, 2, 1, 0])
    decoded = decode_grayscale_png(data)
    from io import BytesIO

    with Image.open(BytesIO(data)) as image:
        expected = np.asarray(image.convert("L"))
    np.testing.assert_array_equal(decoded, expected)


def test_builtin_decoder_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        decode_grayscale_png(b"GIF89a")
    good = _png(np.zeros((4, 4), np.uint8), colour=0, filters=[0] * 4)
    with pytest.raises(ValueError):
        decode_grayscale_png(good[:40])
    palette = good.replace(b"\x08\x00\x00\x00\x00", b"\x08\x03\x00\x00\x00", 1)
    with pytest.raises(ValueError, match="unsupported PNG"):
        decode_grayscale_png(palette)


def test_a_corrupt_png_in_the_tree_is_a_data_error_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "fashion_mnist_images"
    write_png_tree(root, n_per_class=1)
    broken = root / "train" / "4" / "0000.png"
    broken.write_bytes(broken.read_bytes()[:60])
    for load in (load_fashion_mnist, load_dataset):
        with pytest.raises(DataError, match=r"0000\.png") as error:
            load(root)
        assert str(broken) in str(error.value)
