"""The confusion matrix as a heat map, for `fashiond evaluate --plot`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from daemon.errors import UsageError


def confusion_matrix_png(
    matrix: np.ndarray, class_names: Sequence[str], path: Path, *, title: str
) -> None:
    """Draw counts [true, predicted] with each cell's count, and the row-normalized colour.

    Colouring by row share rather than raw count keeps the small classes'
    mistakes visible next to the diagonal's thousands.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    matrix = np.asarray(matrix)
    n = len(class_names)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure = Figure(figsize=(1.0 + 0.8 * n, 1.0 + 0.7 * n), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    axes.set_xticks(range(n), labels=class_names, rotation=45, ha="right")
    axes.set_yticks(range(n), labels=class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if shares[row, col] > 0.5 else "black"
        axes.text(col, row, str(count), ha="center", va="center", fontsize=8, color=colour)
    figure.colorbar(image, ax=axes, label="share of the true class")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise UsageError(
            f"cannot write the plot to {path}: {exc.strerror}", hint="choose another --plot path"
        ) from None
