"""What the built-ins share: judging the background of a grayscale image from its edges."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image

_BORDER = 2  # pixels of each edge sampled
_WHOLE = 512 * 512  # up to this many pixels, reading the whole image is cheaper than four crops


@dataclass(frozen=True)
class BorderLevel:
    median: float  # the background's brightness
    spread: float  # how much it varies (noise, texture, JPEG ringing), about one sigma


def border_median(image: Image.Image) -> float:
    """The background's brightness as seen along the four edges, where an item rarely is.

    A median, so an item touching the edges (trousers top to bottom) does not move it.
    """
    return _median(_ring_of_image(image))


def border_level_of(pixels: np.ndarray) -> BorderLevel:
    """The median and the median absolute deviation (scaled to a sigma) of the edges."""
    ring = _ring(pixels)
    median = _median(ring)
    deviation = _median(np.abs(ring.astype(np.float32) - median))
    return BorderLevel(median=median, spread=1.4826 * deviation)


def _ring_of_image(image: Image.Image) -> np.ndarray:
    width, height = image.size
    if width * height <= _WHOLE:
        return _ring(np.asarray(image))
    b = _width(height, width)
    edges = [(0, 0, width, b), (0, height - b, width, height)]
    edges += [(0, b, b, height - b), (width - b, b, width, height - b)]
    return np.concatenate([np.asarray(image.crop(box)).ravel() for box in edges])


def _ring(pixels: np.ndarray) -> np.ndarray:
    return pixels.ravel()[_ring_indices(*pixels.shape)]


@functools.lru_cache(maxsize=64)
def _ring_indices(height: int, width: int) -> np.ndarray:
    """Flat indices of the edge pixels: one gather per image instead of four slices."""
    b = _width(height, width)
    edge = np.zeros((height, width), dtype=bool)
    edge[:b] = edge[-b:] = True
    edge[:, :b] = edge[:, -b:] = True
    return np.flatnonzero(edge)


def _width(height: int, width: int) -> int:
    return max(1, min(_BORDER, height // 4, width // 4))


def _median(values: np.ndarray) -> float:
    """The median of a scratch array, which it sorts in place (np.median costs ten times more)."""
    values.sort()
    return float(values[len(values) // 2])


def require_grayscale(image: Image.Image, step: str) -> None:
    if image.mode != "L":
        raise ValueError(
            f'{step} works on grayscale (mode "L") images, got mode "{image.mode}"; '
            "put grayscale before it in preprocess:"
        )
