"""`grayscale`: any Pillow image to 8-bit grayscale, upright, first frame only.

Pillow opens an animated GIF, PNG or WebP on its first frame and the chain
decodes only that one, so there is nothing to do here about animation.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageOps

from plugins.api import Context, Image, Option, Preprocessor

_ORIENTATION = 0x0112
_WHITE = 255
_BLACK = 0


class Grayscale(Preprocessor):
    name = "grayscale"
    description = "convert to 8-bit grayscale: EXIF orientation, transparency, 16-bit, CMYK"
    options = (
        Option(
            "background",
            str,
            "auto",
            "what transparent pixels become: auto (a GIF's own background colour, else "
            "white behind a dark item and black behind a light one), white or black",
            choices=("auto", "white", "black"),
        ),
    )

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        image = _upright(image)
        mode = image.mode
        if mode == "L":
            return image
        if mode in ("RGB", "1"):
            return image.convert("L")
        if mode.startswith("I") or mode == "F":
            return _from_wide(image)
        if mode == "P" and "transparency" not in image.info:
            return image.convert("L")
        if mode in ("RGBA", "LA", "PA", "P", "RGBa", "La"):
            return _flatten(image, _matte(image, context.options["background"]))
        return image.convert("RGB").convert("L")  # CMYK, YCbCr, LAB, HSV


def _upright(image: Image.Image) -> Image.Image:
    orientation = image.getexif().get(_ORIENTATION, 1)
    if orientation in (None, 1):
        return image
    return ImageOps.exif_transpose(image)


def _from_wide(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit integer images hold 0..65535; float images 0..1 or 0..255."""
    pixels = np.asarray(image)
    if image.mode == "F":
        top = 1.0 if float(np.nanmax(pixels, initial=0.0)) <= 1.0 else 255.0
        scaled = np.nan_to_num(pixels) * (255.0 / top)
    else:
        scaled = pixels.astype(np.float32) / 257.0
    return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8))


def _matte(image: Image.Image, choice: str) -> int:
    if choice == "white":
        return _WHITE
    if choice == "black":
        return _BLACK
    declared = _declared_background(image)
    return declared if declared is not None else _contrasting(image)


def _declared_background(image: Image.Image) -> int | None:
    """A GIF's background colour (Pillow does not read PNG's bKGD chunk)."""
    background = image.info.get("background")
    if isinstance(background, int) and image.mode == "P":
        rgb = (image.getpalette() or [])[3 * background : 3 * background + 3]
        return _luma(rgb) if len(rgb) == 3 else None
    if isinstance(background, tuple) and len(background) >= 3:
        return _luma(background[:3])
    return None


def _contrasting(image: Image.Image) -> int:
    """White behind a dark item, black behind a light one, so the item stays visible."""
    rgba = image.convert("LA")
    lum, alpha = (np.asarray(band) for band in rgba.split())
    opaque = lum[alpha > 127]
    return _WHITE if opaque.size == 0 or float(opaque.mean()) < 128 else _BLACK


def _luma(rgb: tuple[int, ...] | list[int]) -> int:
    r, g, b = (min(int(v), 255) for v in rgb)
    return (r * 299 + g * 587 + b * 114) // 1000


def _flatten(image: Image.Image, matte: int) -> Image.Image:
    rgba = image.convert("LA") if image.mode in ("LA", "La") else image.convert("RGBA")
    gray = rgba.convert("L") if rgba.mode == "RGBA" else rgba.getchannel("L")
    canvas = Image.new("L", image.size, matte)
    canvas.paste(gray, mask=rgba.getchannel("A"))
    return canvas
