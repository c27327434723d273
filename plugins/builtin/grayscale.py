"""`grayscale`: any Pillow image to 8-bit grayscale, upright, first frame only."""

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
            "what transparent pixels become: auto (the file's own background colour, "
            "else white), white or black",
            choices=("auto", "white", "black"),
        ),
    )

    def prepare(self, image: Image.Image, context: Context) -> None:
        # An animated file opens on its first frame; make that explicit for formats
        # whose opener may have moved on while reading the header.
        if getattr(image, "n_frames", 1) > 1 and image.tell() != 0:
            image.seek(0)

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
    background = image.info.get("background")
    if isinstance(background, int) and image.mode == "P":
        palette = image.getpalette() or []
        rgb = palette[3 * background : 3 * background + 3]
        if len(rgb) == 3:
            return _luma(rgb)
    if isinstance(background, tuple) and len(background) >= 3:
        return _luma(background[:3])
    if isinstance(background, int) and image.mode in ("LA", "La"):
        return min(background, 255)
    return _WHITE


def _luma(rgb: tuple[int, ...] | list[int]) -> int:
    r, g, b = (min(int(v), 255) for v in rgb)
    return (r * 299 + g * 587 + b * 114) // 1000


def _flatten(image: Image.Image, matte: int) -> Image.Image:
    rgba = image.convert("LA") if image.mode in ("LA", "La") else image.convert("RGBA")
    gray = rgba.convert("L") if rgba.mode == "RGBA" else rgba.getchannel("L")
    canvas = Image.new("L", image.size, matte)
    canvas.paste(gray, mask=rgba.getchannel("A"))
    return canvas
