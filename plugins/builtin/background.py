"""What the built-ins share: judging the background of a grayscale image from its edges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

_BORDER = 2  # pixels of each edge sampled


@dataclass(frozen=True)
class BorderLevel:
    median: float  # the background's brightness
    spread: float  # how much it varies: noise, texture, JPEG ringing


def border_level(image: Image.Image) -> BorderLevel:
    """The background as seen along the four edges, where a centred item rarely is."""
    pixels = np.asarray(image)
    b = max(1, min(_BORDER, pixels.shape[0] // 4, pixels.shape[1] // 4))
    ring = np.concatenate(
        [pixels[:b].ravel(), pixels[-b:].ravel(), pixels[:, :b].ravel(), pixels[:, -b:].ravel()]
    )
    low, median, high = np.percentile(ring, (10, 50, 90))
    return BorderLevel(median=float(median), spread=float(high - low) / 2)


def require_grayscale(image: Image.Image, step: str) -> None:
    if image.mode != "L":
        raise ValueError(
            f'{step} works on grayscale (mode "L") images, got mode "{image.mode}"; '
            "put grayscale before it in preprocess:"
        )
