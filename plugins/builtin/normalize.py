"""`normalize`: pixels to the network's input range, as recorded in the model file."""

from __future__ import annotations

from plugins.api import Context, Image, Preprocessor
from plugins.builtin.background import require_grayscale


class Normalize(Preprocessor):
    name = "normalize"
    description = "scale 0-255 pixels to the network's input range (from the model file)"

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        require_grayscale(image, self.name)
        scale = 1.0 / context.model_input.scale
        shift = -context.model_input.offset * scale
        # Pillow applies a linear function to a mode "F" image in one C pass.
        return image.convert("F").point(lambda v: v * scale + shift)
