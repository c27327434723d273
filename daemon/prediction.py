"""Labelling image files with a model through the plugin chain, outside the daemon.

`fashiond predict` and `main.py --predict_image` share this, so the two can
never disagree about how a file is preprocessed or what a failure looks like.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daemon.config import Config
from daemon.errors import UsageError
from nnet.model import TrainedModel
from plugins.api import ModelInput
from plugins.chain import Chain
from plugins.errors import StepError


@dataclass(frozen=True)
class ImagePrediction:
    path: Path
    label: str
    confidence: float
    probabilities: dict[str, float]  # every class, in the model's class order


@dataclass(frozen=True)
class ImageFailure:
    path: Path
    error: StepError  # error.plugin names the step ("open" for unreadable files)


def model_input(model: TrainedModel) -> ModelInput:
    """What the chain must produce for this model, as recorded in its parameters file."""
    fmt = model.input_format
    return ModelInput(size=tuple(fmt.image_size), offset=fmt.offset, scale=fmt.scale)


def build_chain(config: Config, *, model: TrainedModel, light_bg: bool | None = None) -> Chain:
    """The config's `preprocess:` chain for this model.

    `light_bg` is the original project's --light-bg / --no-light-bg: True forces
    the invert step to `always`, False to `never`, None keeps the config.
    """
    entries = [(entry.name, dict(entry.options)) for entry in config.preprocess]
    if light_bg is not None:
        if not any(name == "invert" for name, _ in entries):
            raise UsageError(
                "--light-bg and --no-light-bg need an invert step in the preprocess chain",
                hint="add '- invert' to preprocess: in the config",
            )
        mode = "always" if light_bg else "never"
        entries = [
            (name, {**options, "mode": mode} if name == "invert" else options)
            for name, options in entries
        ]
    return Chain.build(entries, plugins_dir=config.plugins_dir, model_input=model_input(model))


def predict_files(
    paths: Sequence[Path], *, model: TrainedModel, chain: Chain
) -> list[ImagePrediction | ImageFailure]:
    """One result per path, in order; a file that fails never stops the others."""
    results: list[ImagePrediction | ImageFailure | None] = []
    inputs, slots = [], []
    for path in paths:
        try:
            inputs.append(chain.run(Path(path)))
        except StepError as exc:
            results.append(ImageFailure(Path(path), exc))
            continue
        slots.append(len(results))
        results.append(None)
    if inputs:
        probabilities = model.predict_proba(np.stack(inputs))
        for slot, row in zip(slots, probabilities, strict=True):
            results[slot] = _prediction(Path(paths[slot]), row, model.class_names)
    return [r for r in results if r is not None]


def _prediction(path: Path, row: np.ndarray, class_names: Sequence[str]) -> ImagePrediction:
    best = int(np.argmax(row))
    return ImagePrediction(
        path=path,
        label=class_names[best],
        confidence=float(row[best]),
        probabilities={name: float(p) for name, p in zip(class_names, row, strict=True)},
    )


def as_dict(prediction: ImagePrediction) -> dict[str, object]:
    record = dataclasses.asdict(prediction)
    record["path"] = str(prediction.path)
    return record
