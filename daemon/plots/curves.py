"""Loss and accuracy per epoch, as one PNG with two panels, for a retrain report."""

from __future__ import annotations

from pathlib import Path

from nnet.history import History


def training_curves_png(history: History, path: Path, *, title: str) -> Path:
    """Write the curves; validation lines appear when the history has them.

    matplotlib is imported here, not at module level, so commands that never
    plot do not pay for it, and the Agg backend is chosen so no display is needed.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    epochs = [r.epoch for r in history.records]
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    loss_axes.plot(epochs, [r.loss for r in history.records], marker="o", label="train")
    accuracy_axes.plot(epochs, [r.accuracy for r in history.records], marker="o", label="train")
    if any(r.val_loss is not None for r in history.records):
        loss_axes.plot(epochs, [r.val_loss for r in history.records], marker="s", label="test")
        accuracy_axes.plot(
            epochs, [r.val_accuracy for r in history.records], marker="s", label="test"
        )
    for axes, name in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        axes.set_xlabel("epoch")
        axes.set_ylabel(name)
        axes.set_xticks(epochs)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
