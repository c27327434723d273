"""`invert`: make the background dark, as in Fashion-MNIST, when it is light."""

from __future__ import annotations

from PIL import ImageChops

from plugins.api import Context, Image, Option, Preprocessor
from plugins.builtin.background import border_median, require_grayscale


class Invert(Preprocessor):
    name = "invert"
    description = "negate the image when its background is light (mode auto), or always/never"
    options = (
        Option(
            "mode",
            str,
            "auto",
            "auto: invert when the border pixels are mostly light; always (--light-bg); "
            "never (--no-light-bg)",
            choices=("auto", "always", "never"),
        ),
        Option(
            "threshold", int, 128, "auto mode: a border median above this means a light background"
        ),
    )

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        require_grayscale(image, self.name)
        mode = context.options["mode"]
        if mode == "never":
            return image
        if mode == "auto" and border_median(image) <= context.options["threshold"]:
            return image
        return ImageChops.invert(image)  # one C pass; ImageOps.invert builds a table
