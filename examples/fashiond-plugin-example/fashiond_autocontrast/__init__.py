"""`autocontrast`: stretch a grayscale image so its darkest and lightest pixels span 0-255.

Useful before `invert` for washed-out photos (a grey garment on a grey
background), so that the background judgement has more contrast to go on.
"""

from __future__ import annotations

from PIL import ImageOps

from plugins.api import Context, Image, Option, Preprocessor


class AutoContrast(Preprocessor):
    name = "autocontrast"
    description = "stretch the contrast so the darkest pixel is 0 and the lightest 255"
    options = (
        Option("cutoff", float, 1.0, "percent of the darkest and lightest pixels to ignore"),
    )

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        if image.mode != "L":
            image = image.convert("L")
        return ImageOps.autocontrast(image, cutoff=context.options["cutoff"])
