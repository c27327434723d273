"""The preprocessing chain: the configured plugins, checked once, run per image.

Everything about the config is checked in `Chain.build`, so a typo stops the
daemon at startup. Everything about one image is checked while running it, and
any failure there (a file Pillow cannot read, a plugin that raises or returns
something that is not an image) is a `StepError` for that image alone.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from PIL import Image

from plugins.api import Context, ModelInput, Option, Preprocessor
from plugins.errors import PluginConfigError, StepError
from plugins.registry import PluginInfo, discover

OPEN = "open"  # the step name for failures before the first plugin runs
# Far above any camera (a 48 MP phone photo is 8000x6000) and below Pillow's
# own bomb limit (about 89 M), so Pillow's warning never decides for us.
MAX_PIXELS = 64_000_000
NORMALIZE = "normalize"
# The chain config.yaml ships with (a test keeps daemon.config's default in step).
DEFAULT_ENTRIES: tuple[tuple[str, Mapping[str, Any]], ...] = (
    ("grayscale", {}),
    ("invert", {"mode": "auto"}),
    ("crop", {}),
    ("resize", {}),
    ("normalize", {}),
)


@dataclass(frozen=True)
class _Step:
    name: str
    plugin: Preprocessor
    options: Mapping[str, Any]


class Chain:
    """An ordered list of plugin instances with their checked options."""

    def __init__(
        self, steps: Sequence[_Step], *, model_input: ModelInput, max_pixels: int = MAX_PIXELS
    ) -> None:
        self._steps = tuple(steps)
        self.names: tuple[str, ...] = tuple(step.name for step in self._steps)
        self.model_input = model_input
        self.max_pixels = max_pixels
        # Only steps that override prepare() get called before decoding.
        self._preparing = tuple(
            i for i, step in enumerate(self._steps) if _overrides_prepare(step.plugin)
        )
        # `pixels_bytes` stops before the last normalize step, if there is one.
        cut = max((i for i, s in enumerate(self._steps) if s.name == NORMALIZE), default=None)
        self._pixel_steps = self._steps if cut is None else self._steps[:cut]

    @classmethod
    def build(
        cls,
        entries: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        plugins_dir: Path | None = None,
        model_input: ModelInput = ModelInput(),  # noqa: B008 (frozen, so sharing it is safe)
        max_pixels: int = MAX_PIXELS,
    ) -> Chain:
        """Check every name and option now, so a bad config fails before any image."""
        if not entries:
            raise PluginConfigError(
                "the preprocess chain is empty", hint="list at least normalize under preprocess:"
            )
        available = discover(plugins_dir=plugins_dir)
        steps = []
        for name, options in entries:
            info = _lookup(available, name)
            steps.append(_Step(name, _instantiate(info), _checked_options(info, options)))
        return cls(steps, model_input=model_input, max_pixels=max_pixels)

    # --- running one image ------------------------------------------------------------

    def run(self, path: Path) -> np.ndarray:
        return self.run_bytes(_read(path), path=path)

    def run_bytes(self, data: bytes, *, path: Path) -> np.ndarray:
        """The network input for one file: float32, shaped `model_input.size`."""
        image = self._apply(self._steps, data, path=path)
        last = self.names[-1]
        if image.mode != "F":
            raise StepError(
                last,
                f'returned a mode "{image.mode}" image, but the network needs mode "F" '
                "(end the preprocess chain with normalize)",
            )
        return _sized(np.asarray(image, dtype=np.float32), self.model_input, step=last)

    def pixels_bytes(self, data: bytes, *, path: Path) -> np.ndarray:
        """What the network would see, as uint8 pixels with 0 as the background."""
        image = self._apply(self._pixel_steps, data, path=path)
        last = self._pixel_steps[-1].name if self._pixel_steps else OPEN
        if image.mode != "L":
            try:
                image = image.convert("L")
            except Exception as exc:
                message = f'cannot turn a mode "{image.mode}" image into pixels: {exc}'
                raise StepError(last, message) from None
        return np.asarray(image, dtype=np.uint8)

    def _apply(self, steps: Sequence[_Step], data: bytes, *, path: Path) -> Image.Image:
        image = _open(data, max_pixels=self.max_pixels)
        contexts = [Context(path, step.options, self.model_input) for step in steps]
        for i in self._preparing:
            if i < len(steps):
                try:
                    steps[i].plugin.prepare(image, contexts[i])
                except Exception as exc:
                    raise _failed(steps[i], exc) from None
        _decode(image)
        for step, context in zip(steps, contexts, strict=True):
            try:
                image = step.plugin.process(image, context)
            except Exception as exc:
                raise _failed(step, exc) from None
            if not isinstance(image, Image.Image):
                raise StepError(step.name, f"returned {type(image).__name__}, not a Pillow image")
            if image.width < 1 or image.height < 1:
                raise StepError(step.name, f"returned an empty {image.width}x{image.height} image")
        return image


# --- building -------------------------------------------------------------------------


def _lookup(available: Mapping[str, PluginInfo], name: str) -> PluginInfo:
    info = available.get(name)
    if info is None:
        raise PluginConfigError(
            f'Unknown plugin: "{name}"',
            hint=f"available plugins: {', '.join(sorted(available)) or 'none'}",
        )
    return info


def _instantiate(info: PluginInfo) -> Preprocessor:
    try:
        return info.plugin()
    except Exception as exc:
        raise PluginConfigError(
            f'plugin "{info.name}" from {info.source} cannot be created: '
            f"{type(exc).__name__}: {exc}",
            hint="a Preprocessor must be constructible with no arguments",
        ) from None


def _checked_options(info: PluginInfo, given: Mapping[str, Any]) -> Mapping[str, Any]:
    """The given options checked against the declared ones, with defaults filled in.

    Read-only, because every image of every batch shares the one mapping.
    """
    declared = {option.name: option for option in info.plugin.options}
    for key in given:
        if key not in declared:
            known = ", ".join(declared) if declared else "none"
            raise PluginConfigError(
                f'plugin "{info.name}": unknown option "{key}"', hint=f"its options: {known}"
            )
    options = {}
    for name, option in declared.items():
        options[name] = _checked_value(info.name, option, given.get(name, option.default))
    return MappingProxyType(options)


def _checked_value(plugin: str, option: Option, value: Any) -> Any:
    expected = option.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        raise PluginConfigError(
            f'plugin "{plugin}": option "{option.name}" must be {_type_name(expected)}, '
            f"got {value!r}",
            hint=option.help,
        )
    if option.choices is not None and value not in option.choices:
        raise PluginConfigError(
            f'plugin "{plugin}": option "{option.name}" must be one of '
            f"{', '.join(map(str, option.choices))}, got {value!r}",
            hint=option.help,
        )
    return value


def _type_name(t: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}[t]


# --- one image ------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise StepError(OPEN, f"cannot read the file: {exc.strerror or exc}") from None


def _open(data: bytes, *, max_pixels: int) -> Image.Image:
    """Read only the header, refusing absurd sizes before any pixel is decoded."""
    if not data:
        raise StepError(OPEN, "the file is empty")
    try:
        # Pillow warns, rather than refuses, between its limit and twice it. Made an
        # error here so that it is caught below, whatever the process's filters say.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise StepError(OPEN, f"refused as a decompression bomb: {exc}") from None
    except Image.UnidentifiedImageError:
        raise StepError(OPEN, "not an image format Pillow can read") from None
    except Exception as exc:
        raise StepError(OPEN, f"not a readable image: {type(exc).__name__}: {exc}") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > max_pixels:
        raise StepError(
            OPEN, f"refused: {width}x{height} pixels (the limit is {max_pixels:,} pixels)"
        )
    return image


def _decode(image: Image.Image) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except Exception as exc:
        raise StepError(OPEN, f"cannot decode: {type(exc).__name__}: {exc}") from None


def _overrides_prepare(plugin: Preprocessor) -> bool:
    return type(plugin).prepare is not Preprocessor.prepare


def _failed(step: _Step, exc: Exception) -> StepError:
    if isinstance(exc, StepError):
        return exc
    return StepError(step.name, f"{type(exc).__name__}: {exc}")


def _sized(pixels: np.ndarray, model_input: ModelInput, *, step: str) -> np.ndarray:
    if pixels.shape != tuple(model_input.size):
        height, width = model_input.size
        raise StepError(
            step,
            f"returned a {pixels.shape[1]}x{pixels.shape[0]} image, "
            f"but the model needs {width}x{height}",
        )
    return pixels
