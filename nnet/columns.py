"""Sums down the columns of a (rows, features) matrix, through BLAS.

numpy reduces over axis 0 a row at a time in its generic loop; a product
with a vector of ones gives the same sums 5 to 10 times faster (float32,
a convolution's bias gradient and BatchNorm's statistics, measured on rows
of 32 and 64 channels). The sums run in float32 either way.
"""

from __future__ import annotations

import numpy as np


def column_sums(a: np.ndarray) -> np.ndarray:
    return np.ones(len(a), dtype=a.dtype) @ a


def column_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each column of `a` dotted with the same column of `b`."""
    return column_sums(a * b)
