"""Every name a plugin author uses. (A test checks the README documents each one.)

A plugin is a `Preprocessor` subclass: it declares a name, a one-line
description and its options, and transforms one image. Between steps the image
is always a Pillow image (`PIL.Image.Image`). The chain opens the file, lets
every step's `prepare` look at it while it is still undecoded (to pick a frame,
or ask a JPEG for a smaller draft), decodes it, then calls each `process` in
order. `normalize`, the last step, returns a mode "F" (32-bit float) image of
the model's input size, which the chain hands to the network as a numpy array.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

__all__ = ["Context", "Image", "ModelInput", "Option", "Preprocessor"]


@dataclass(frozen=True)
class Option:
    """One option a plugin accepts in config.yaml, checked at startup."""

    name: str
    type: type  # bool, int, float or str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class ModelInput:
    """What the loaded model expects; read from its parameters file."""

    size: tuple[int, int] = (28, 28)  # (height, width)
    offset: float = 127.5  # network input = (pixel - offset) / scale
    scale: float = 127.5


@dataclass(frozen=True)
class Context:
    """What a step knows besides the image: which file, its options, the model's input."""

    path: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    model_input: ModelInput = field(default_factory=ModelInput)


class Preprocessor:
    """Subclass this, set the three class attributes, and implement `process`."""

    name: ClassVar[str]
    description: ClassVar[str]  # one line, shown by `fashiond plugins`
    options: ClassVar[tuple[Option, ...]] = ()

    def prepare(self, image: Image.Image, context: Context) -> None:
        """Optional: called on the opened, not yet decoded file, before any `process`.

        Decoding is the expensive part of a large photo, so this is the one
        chance to make it cheaper (`image.draft(...)`) or choose a frame
        (`image.seek(...)`). Only the first `draft` call takes effect.
        """

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        """Return the transformed image (a new one, or `image` itself if unchanged)."""
        raise NotImplementedError
