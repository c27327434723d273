"""What the built-ins share: judging the background of a grayscale image from its edges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

_BORDER = 2  # pixels of each edge sampled
_WHOLE = 512 * 512  # up to this many pixels, reading the whole image is cheaper than four crops


@dataclass(frozen=True)
class BorderLevel:
    median: float  # the background's brightness
    spread: float  # how much it varies (noise, texture, JPEG ringing), about one sigma


def border_level(image: Image.Image) -> BorderLevel:
    """The background as seen along the four edges, where a centred item rarely is."""
    width, height = image.size
    b = max(1, min(_BORDER, width // 4, height // 4))
    if width * height <= _WHOLE:
        return border_level_of(np.asarray(image))
    edges = [(0, 0, width, b), (0, height - b, width, height)]
    edges += [(0, b, b, height - b), (width - b, b, width, height - b)]
    ring = np.concatenate([np.asarray(image.crop(box)).ravel() for box in edges])
    return _level(ring)


def border_level_of(pixels: np.ndarray) -> BorderLevel:
    b = max(1, min(_BORDER, pixels.shape[0] // 4, pixels.shape[1] // 4))
    ring = np.concatenate(
        [pixels[:b].ravel(), pixels[-b:].ravel(), pixels[:, :b].ravel(), pixels[:, -b:].ravel()]
    )
    return _level(ring)


def _level(ring: np.ndarray) -> BorderLevel:
    """Median and median absolute deviation: an item touching the edges does not move them."""
    median = float(np.sort(ring)[len(ring) // 2])
    deviation = np.sort(np.abs(ring.astype(np.float32) - median))[len(ring) // 2]
    return BorderLevel(median=median, spread=1.4826 * float(deviation))


def require_grayscale(image: Image.Image, step: str) -> None:
    if image.mode != "L":
        raise ValueError(
            f'{step} works on grayscale (mode "L") images, got mode "{image.mode}"; '
            "put grayscale before it in preprocess:"
        )
