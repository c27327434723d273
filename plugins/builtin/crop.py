"""`crop`: frame the item the way Fashion-MNIST does.

Fashion-MNIST trimmed each product photo to the item, scaled its long side to
the full 28 pixels and centred it on the short side; its items are bright on an
exactly black background, and the brightest pixel is at or near 255. This step
does the same framing on a grayscale image at whatever size it has; `resize`
then scales it.
"""

from __future__ import annotations

import numpy as np

from plugins.api import Context, Image, Option, Preprocessor
from plugins.builtin.background import BorderLevel, border_level_of, require_grayscale

_ANALYSIS_SIZE = 160  # the item is looked for on a copy about this big: fast, and less noisy
_BLACK = 4  # a border median up to this is Fashion-MNIST's black
_VALUES = np.arange(256, dtype=np.float32)
_Box = tuple[int, int, int, int]  # left, top, right, bottom


class Crop(Preprocessor):
    name = "crop"
    description = "crop to the item and pad to a square; a dark background becomes black"
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
        factor = max(1, max(image.size) // _ANALYSIS_SIZE)
        small = np.asarray(image.reduce(factor) if factor > 1 else image)
        level = border_level_of(small)
        if _already_framed(small, level, context):
            return image
        found = _find_item(small, level, threshold=options["threshold"])
        if found is None:
            return image  # nothing stands out: leave the frame as it is
        (left, top, right, bottom), darker = found
        if factor == 1:
            item = small[top:bottom, left:right]
        else:
            full = (left * factor, top * factor, right * factor, bottom * factor)
            item = np.asarray(image.crop(full))
        fill = round(level.median)
        if options["stretch"] and level.median < 128:
            item = _levels(small[top:bottom, left:right], level, darker=darker)[item]
            fill = 0
        framed = _square(item, margin=options["margin"], fill=fill)
        return Image.frombytes("L", (framed.shape[1], framed.shape[0]), framed.tobytes())


def _already_framed(pixels: np.ndarray, level: BorderLevel, context: Context) -> bool:
    """A Fashion-MNIST image itself: the model's size, black, the item spanning the frame.

    Re-framing it could only shift it by a pixel, which costs a classifier accuracy.
    """
    if pixels.shape != tuple(context.model_input.size) or level.median > _BLACK:
        return False
    tall = pixels[0].any() and pixels[-1].any()
    return bool(tall or (pixels[:, 0].any() and pixels[:, -1].any()))


def _find_item(
    pixels: np.ndarray, level: BorderLevel, *, threshold: int
) -> tuple[_Box, bool] | None:
    """The item's box, and whether it is darker than the background rather than lighter.

    Rows and columns need enough item pixels, so a few stray noisy ones do not count.
    A darker item is a white garment on a grey ground once inverted.
    """
    cutoff = max(threshold, 3 * level.spread)
    mask = pixels > level.median + cutoff
    lighter = np.count_nonzero(mask)
    darker = 0
    if level.median - cutoff >= 0:
        below = pixels < level.median - cutoff
        darker = np.count_nonzero(below)
        mask |= below
    (rows,) = np.nonzero(_enough(mask, axis=1))
    (cols,) = np.nonzero(_enough(mask, axis=0))
    if rows.size == 0 or cols.size == 0:
        return None
    box = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    return box, darker > lighter


def _enough(mask: np.ndarray, *, axis: int) -> np.ndarray:
    """More than 1% of the line is item; on a small image, any pixel is enough."""
    needed = mask.shape[1 - axis] // 100
    return mask.any(axis=axis) if needed == 0 else mask.sum(axis=axis) > needed


def _levels(sample: np.ndarray, level: BorderLevel, *, darker: bool) -> np.ndarray:
    """A lookup table taking the background (and its noise) to 0 and the item's peak to 255.

    The peak is the pixel furthest from the background, on the item's side of it.
    """
    if darker:
        distance, peak = level.median - _VALUES, level.median - float(sample.min())
    else:
        distance, peak = _VALUES - level.median, float(sample.max()) - level.median
    if peak <= level.spread + 1:
        return np.arange(256, dtype=np.uint8)
    lut = (distance - level.spread) * (255.0 / (peak - level.spread)) + 0.5
    return np.minimum(np.maximum(lut, 0, out=lut), 255, out=lut).astype(np.uint8)


def _square(item: np.ndarray, *, margin: float, fill: int) -> np.ndarray:
    height, width = item.shape
    side = round(max(height, width) * (1 + 2 * margin))
    if height == width == side:
        return item
    canvas = np.full((side, side), fill, dtype=np.uint8)
    # An odd leftover pixel goes above and to the left, as in Fashion-MNIST.
    top, left = (side - height + 1) // 2, (side - width + 1) // 2
    canvas[top : top + height, left : left + width] = item
    return canvas
