"""`resize`: scale to the model's input size, cheaply even for a 12-megapixel photo."""

from __future__ import annotations

from plugins.api import Context, Image, Option, Preprocessor

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
# A JPEG is decoded at 1/2, 1/4 or 1/8 scale, but never below this many times the
# model's input, so that crop still has detail to find the item's edges in.
_DRAFT_FACTOR = 8


class Resize(Preprocessor):
    name = "resize"
    description = "resize to the model's input size with anti-aliasing (fast path for big photos)"
    options = (
        Option(
            "resample",
            str,
            "lanczos",
            "the resampling filter",
            choices=tuple(_RESAMPLE),
        ),
        Option(
            "fast",
            bool,
            True,
            "decode big JPEGs at reduced scale, and shrink by whole factors before the filter",
        ),
    )

    def prepare(self, image: Image.Image, context: Context) -> None:
        # Phones often save MPO: a JPEG with extra pictures, drafted the same way.
        if not context.options["fast"] or image.format not in ("JPEG", "MPO"):
            return
        height, width = context.model_input.size
        # The network reads one channel, so a colour JPEG is decoded straight to luma.
        mode = "L" if image.mode in ("RGB", "L") else image.mode
        image.draft(mode, (width * _DRAFT_FACTOR, height * _DRAFT_FACTOR))

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        height, width = context.model_input.size
        if image.size == (width, height):
            return image
        # reducing_gap: Image.reduce by a whole factor first (a cheap box average),
        # then the filter on an image at most twice the target size.
        gap = 2.0 if context.options["fast"] else None
        return image.resize(
            (width, height), _RESAMPLE[context.options["resample"]], reducing_gap=gap
        )
