"""`normalize`: pixels to the network's input range, as recorded in the model file."""

from __future__ import annotations

from plugins.api import Context, Image, ModelInput, Preprocessor
from plugins.builtin.background import require_grayscale


class Normalize(Preprocessor):
    name = "normalize"
    description = "scale 0-255 pixels to the network's input range (from the model file)"

    def __init__(self) -> None:
        self._tables: dict[ModelInput, list[float]] = {}

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        require_grayscale(image, self.name)
        # One table lookup per pixel, straight from mode "L" to mode "F".
        return image.point(self._table(context.model_input), "F")

    def _table(self, model_input: ModelInput) -> list[float]:
        table = self._tables.get(model_input)
        if table is None:
            offset, scale = model_input.offset, model_input.scale
            table = self._tables[model_input] = [(v - offset) / scale for v in range(256)]
        return table
