"""Writing small Fashion-MNIST folders in the official IDX layout, for tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from nnet.data import IDX_FILES, load_fashion_mnist


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx_dir(
    folder: Path,
    *,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    gz: bool = True,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in (("train", train), ("test", test)):
        images_stem, labels_stem = IDX_FILES[split]
        for stem, array in ((images_stem, images), (labels_stem, labels)):
            data = idx_bytes(array)
            if gz:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data, compresslevel=1))
            else:
                (folder / stem).write_bytes(data)
    return folder


def real_subset(source: Path, folder: Path, *, n_train: int, n_test: int) -> Path:
    """The first images of the real Fashion-MNIST, written as a small IDX folder."""
    data = load_fashion_mnist(source)
    return write_idx_dir(
        folder,
        train=(data.train_images[:n_train], data.train_labels[:n_train]),
        test=(data.test_images[:n_test], data.test_labels[:n_test]),
    )
