"""`crop`: frame the item the way Fashion-MNIST does.

Fashion-MNIST trimmed each product photo to the item, scaled its long side to
the full 28 pixels and centred it on the short side; its items are bright on an
exactly black background with the brightest pixel near 255. This step does the
same framing on a grayscale image at whatever size it has; `resize` then scales it.
"""

from __future__ import annotations

import numpy as np

from plugins.api import Context, Image, Option, Preprocessor
from plugins.builtin.background import BorderLevel, border_level, require_grayscale

_ANALYSIS_SIZE = 160  # the bounding box is found on a copy about this big: fast, less noisy


class Crop(Preprocessor):
    name = "crop"
    description = "crop to the item, pad to a square with the background, black background"
    options = (
        Option("margin", float, 0.0, "space around the item, as a fraction of its long side"),
        Option(
            "threshold",
            int,
            24,
            "how far from the background level (0-255) a pixel must be to count as the item",
        ),
        Option(
            "stretch",
            bool,
            True,
            "on a dark background, map the background to 0 and the brightest pixel to 255",
        ),
    )

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        require_grayscale(image, self.name)
        options = context.options
        small, factor = _analysis_copy(image)
        level = border_level(small)
        box = _item_box(small, level, threshold=options["threshold"])
        if box is None:
            return image  # nothing stands out: leave the frame as it is
        left, top, right, bottom = (v * factor for v in box)
        right, bottom = min(right, image.width), min(bottom, image.height)
        item = image.crop((left, top, right, bottom))
        fill = round(level.median)
        if options["stretch"] and level.median < 128:
            item, fill = _stretched(item, small.crop(box), level), 0
        return _square(item, margin=options["margin"], fill=fill)


def _analysis_copy(image: Image.Image) -> tuple[Image.Image, int]:
    factor = max(1, max(image.size) // _ANALYSIS_SIZE)
    return (image.reduce(factor) if factor > 1 else image), factor


def _item_box(
    small: Image.Image, level: BorderLevel, *, threshold: int
) -> tuple[int, int, int, int] | None:
    """Rows and columns with enough item pixels; a few stray noisy pixels do not count."""
    pixels = np.asarray(small, dtype=np.int16)
    cutoff = max(threshold, 3 * level.spread)
    mask = np.abs(pixels - level.median) > cutoff
    rows = np.flatnonzero(mask.sum(axis=1) > max(1, mask.shape[1] // 100))
    cols = np.flatnonzero(mask.sum(axis=0) > max(1, mask.shape[0] // 100))
    if rows.size == 0 or cols.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _stretched(item: Image.Image, small_item: Image.Image, level: BorderLevel) -> Image.Image:
    floor = level.median + level.spread
    peak = float(np.asarray(small_item).max())
    if peak <= floor + 1:
        return item
    lut = np.clip((np.arange(256) - floor) * (255.0 / (peak - floor)), 0, 255)
    return item.point(np.round(lut).astype(np.uint8).tolist())


def _square(item: Image.Image, *, margin: float, fill: int) -> Image.Image:
    side = round(max(item.size) * (1 + 2 * margin))
    if item.size == (side, side):
        return item
    canvas = Image.new("L", (side, side), fill)
    canvas.paste(item, ((side - item.width) // 2, (side - item.height) // 2))
    return canvas
