"""A trained classifier: the network plus everything needed to use it on new images."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnet.classes import CLASS_NAMES
from nnet.network import Network

__all__ = ["CLASS_NAMES", "InputFormat", "TrainedModel", "TrainingMetadata"]


@dataclass(frozen=True)
class InputFormat:
    """What the network expects: an image size and how pixels map to inputs."""

    image_size: tuple[int, int] = (28, 28)  # (height, width)
    offset: float = 127.5
    scale: float = 127.5

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        """Map 0-255 grayscale pixels to network inputs: (p - offset) / scale."""
        out = np.asarray(pixels, dtype=np.float32) - np.float32(self.offset)
        out /= np.float32(self.scale)
        return out


@dataclass(frozen=True)
class TrainingMetadata:
    arch: str
    epochs: int
    batch_size: int
    seed: int | None
    test_accuracy: float | None
    created_at: str  # ISO 8601, UTC
    data_fingerprint: str  # sha256 of the training data, shortened
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainedModel:
    network: Network
    class_names: tuple[str, ...]
    input_format: InputFormat
    metadata: TrainingMetadata
    # SHA-256 of the saved payload: identifies this exact model. Empty until saved or loaded.
    sha256: str = ""

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities for already-normalized inputs, one row per image."""
        return self.network.predict_proba(images)
