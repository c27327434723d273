"""`fashiond stats --plot FILE`: the stats figures on one PNG page."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from daemon.history_stats import HISTOGRAM_BINS, NO_LABEL, HistoryStats


def stats_png(stats: HistoryStats, path: Path, *, title: str = "fashiond history") -> None:
    """Four panels: labels, confidence, volume per day, model versions.

    Written to a temporary file and renamed, so a reader never sees half a PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    try:
        _labels(axes[0][0], stats)
        _confidence(axes[0][1], stats)
        _per_day(axes[1][0], stats)
        _versions(axes[1][1], stats)
        fig.suptitle(f"{title}: {stats.total:,} predictions, {stats.corrections:,} corrections")
        fig.tight_layout()
        _save(fig, Path(path))
    finally:
        plt.close(fig)


def _labels(ax, stats: HistoryStats) -> None:  # type: ignore[no-untyped-def]
    names = [label or NO_LABEL for label, _ in stats.by_label]
    ax.barh(names[::-1], [n for _, n in stats.by_label][::-1], color="#4c72b0")
    ax.set_title("predictions per label")


def _confidence(ax, stats: HistoryStats) -> None:  # type: ignore[no-untyped-def]
    edges = [i / HISTOGRAM_BINS for i in range(HISTOGRAM_BINS)]
    ax.bar(
        edges,
        stats.confidence_histogram,
        width=1 / HISTOGRAM_BINS,
        align="edge",
        color="#55a868",
        edgecolor="white",
    )
    ax.set_xlim(0, 1)
    ax.set_title("confidence")


def _per_day(ax, stats: HistoryStats) -> None:  # type: ignore[no-untyped-def]
    days = stats.per_day
    ax.bar(range(len(days)), [n for _, n in days], width=1.0, color="#c44e52")
    step = max(1, len(days) // 8)
    ax.set_xticks(range(0, len(days), step))
    ax.set_xticklabels([d for d, _ in days][::step], rotation=30, ha="right", fontsize=8)
    ax.set_title("predictions per day (UTC)")


def _versions(ax, stats: HistoryStats) -> None:  # type: ignore[no-untyped-def]
    names = [v.version or "-" for v in stats.versions]
    ax.bar(names, [v.predictions for v in stats.versions], color="#8172b2")
    ax.set_title("items per model version (accuracy vs corrections on top)")
    for i, v in enumerate(stats.versions):
        if v.accuracy is not None:
            ax.annotate(f"{v.accuracy:.0%}", (i, v.predictions), ha="center", va="bottom")


def _save(fig, path: Path) -> None:  # type: ignore[no-untyped-def]
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent or ".")
    os.close(fd)
    try:
        fig.savefig(temp, format="png", dpi=100)
        umask = os.umask(0)
        os.umask(umask)
        Path(temp).chmod(0o666 & ~umask)  # mkstemp's 0600 is for secrets, not charts
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
