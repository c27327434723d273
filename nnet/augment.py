"""Training-time augmentation of image batches: flips, small shifts, random erasing.

`Network.fit` calls an augmenter on each training batch only, so evaluation
and prediction always see the images as they are. Every transform is drawn
per image but applied to the whole batch at once with stride tricks and
masks: no Python loop over images or pixels.

Pixels uncovered by a shift, and erased patches, take the batch's smallest
value: that is the background (0 before normalisation) for Fashion-MNIST,
whatever offset and scale the model's InputFormat uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class Augment:
    """Random transforms for an NCHW batch, drawn from the generator `fit` passes.

    flip: probability of mirroring an image left to right (clothes are symmetric
    enough that a mirrored shirt is still a shirt; Fashion-MNIST's benchmark
    gains most from this).
    max_shift: largest shift in pixels, up or down and left or right (a random
    crop of the image padded by this much).
    erase: probability of blanking one random rectangle of an image, whose
    sides are erase_size[0]..erase_size[1] pixels.
    """

    flip: float = 0.5
    max_shift: int = 2
    erase: float = 0.0
    erase_size: tuple[int, int] = (4, 12)

    def __post_init__(self) -> None:
        if not 0.0 <= self.flip <= 1.0 or not 0.0 <= self.erase <= 1.0:
            raise ValueError(f"probabilities must be in [0, 1], got {self.flip}, {self.erase}")
        if self.max_shift < 0:
            raise ValueError(f"max_shift must be >= 0, got {self.max_shift}")
        low, high = self.erase_size
        if not 1 <= low <= high:
            raise ValueError(f"erase_size must be 1 <= low <= high, got {self.erase_size}")

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if X.ndim != 4:
            raise ValueError(f"augmentation takes NCHW batches, got shape {X.shape}")
        if len(X) == 0:
            return X
        background = X.min()
        out = X
        if self.flip:
            out = self._flip(out, rng)
        if self.max_shift:
            out = self._shift(out, rng, background)
        if self.erase:
            out = self._erase(out, rng, background)
        return out

    def _flip(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mirrored = rng.random(len(X)) < self.flip
        return np.where(mirrored[:, None, None, None], X[..., ::-1], X)

    def _shift(self, X: np.ndarray, rng: np.random.Generator, fill: np.floating) -> np.ndarray:
        N, C, H, W = X.shape
        s = self.max_shift
        padded = np.full((N, C, H + 2 * s, W + 2 * s), fill, dtype=X.dtype)
        padded[:, :, s : s + H, s : s + W] = X
        crops = sliding_window_view(padded, (H, W), axis=(2, 3))  # (N, C, 2s+1, 2s+1, H, W)
        dy, dx = rng.integers(0, 2 * s + 1, size=(2, N))
        return crops[np.arange(N), :, dy, dx]

    def _erase(self, X: np.ndarray, rng: np.random.Generator, fill: np.floating) -> np.ndarray:
        N, _, H, W = X.shape
        low, high = self.erase_size
        heights = rng.integers(min(low, H), min(high, H) + 1, size=N)
        widths = rng.integers(min(low, W), min(high, W) + 1, size=N)
        tops = rng.integers(0, H - heights + 1)
        lefts = rng.integers(0, W - widths + 1)
        chosen = rng.random(N) < self.erase
        rows = np.arange(H)
        cols = np.arange(W)
        in_rows = (rows >= tops[:, None]) & (rows < (tops + heights)[:, None])
        in_cols = (cols >= lefts[:, None]) & (cols < (lefts + widths)[:, None])
        mask = in_rows[:, :, None] & in_cols[:, None, :] & chosen[:, None, None]
        return np.where(mask[:, None, :, :], fill, X)

    def config(self) -> dict[str, Any]:
        return asdict(self)
