"""Loading Fashion-MNIST for the daemon's commands, with Pillow for the PNG tree.

nnet reads the PNG tree with its own small decoder; the daemon has Pillow, which
is faster and reads any PNG a user may have re-saved there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from daemon.config import Config
from nnet.data import Dataset, load_fashion_mnist
from nnet.errors import DataError


def load_dataset(path: Path | None = None, *, config: Config | None = None) -> Dataset:
    """`path` if given, else the config's `data:`, else nnet's default search."""
    if path is None and config is not None:
        path = config.data
    return load_fashion_mnist(path, image_reader=read_grayscale_with_pillow)


def read_grayscale_with_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(
            f"{path} is not a readable image: {exc}", hint="re-extract the image tree"
        ) from None
