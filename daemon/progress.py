"""Training progress on stderr: a live bar per epoch, then one summary line per epoch."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from nnet.history import EpochRecord


class _Bar(tqdm):  # type: ignore[type-arg]
    # tqdm's monitor thread outlives the bar; training needs none, and tests fail on leaked threads.
    monitor_interval = 0


class ProgressBar:
    """A `TrainingObserver` for people.

    The bar (batches done, running loss and accuracy, ETA) is drawn only on a
    terminal; the per-epoch summary is printed either way, so a log file still
    shows how training went. `quiet` prints nothing at all.
    """

    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self._bar: tqdm | None = None  # type: ignore[type-arg]
        self._epochs = 0
        self._seen = 0
        self._loss_sum = self._accuracy_sum = 0.0

    def epoch_started(self, epoch: int, epochs: int, batches: int) -> None:
        self._epochs, self._seen = epochs, 0
        self._loss_sum = self._accuracy_sum = 0.0
        if self.quiet or not self.stream.isatty():
            return
        # A terminal that reports a size of 0x0 (some ptys, e.g. under `script`) makes
        # tqdm hide the bar entirely: fall back to 80x24 there.
        sized = _has_size(self.stream)
        self._bar = _Bar(
            total=batches,
            desc=f"epoch {epoch}/{epochs}",
            unit="batch",
            file=self.stream,
            leave=False,
            dynamic_ncols=sized,
            ncols=None if sized else 80,
            nrows=None if sized else 24,
            mininterval=0.2,
        )

    def batch_finished(self, loss: float, accuracy: float) -> None:
        self._seen += 1
        self._loss_sum += loss
        self._accuracy_sum += accuracy
        if self._bar is None:
            return
        # set_postfix redraws; update() below rate-limits, so only pass the text along.
        self._bar.set_postfix_str(
            f"loss {self._loss_sum / self._seen:.4f} acc {self._accuracy_sum / self._seen:.2%}",
            refresh=False,
        )
        self._bar.update()

    def epoch_finished(self, record: EpochRecord) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not self.quiet:
            print(summary_line(record, epochs=self._epochs), file=self.stream, flush=True)

    def close(self) -> None:
        """Remove a bar left open by an interrupted epoch."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _has_size(stream: TextIO) -> bool:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return False
    return size.columns > 0 and size.lines > 0


def summary_line(record: EpochRecord, *, epochs: int) -> str:
    line = f"epoch {record.epoch}/{epochs}: loss {record.loss:.4f}, accuracy {record.accuracy:.2%}"
    if record.val_accuracy is not None:
        line += f", test accuracy {record.val_accuracy:.2%}"
    return line + f" ({record.seconds:.1f} s)"


@contextmanager
def item_progress(
    total: int, *, unit: str, quiet: bool = False, stream: TextIO | None = None
) -> Iterator[Callable[[int], object]]:
    """Yields `advance(n)`: a bar of `total` items on a terminal, nothing elsewhere.

    Used by the history commands (reprocess, export) that walk many stored items.
    """
    stream = stream if stream is not None else sys.stderr
    if quiet or not stream.isatty():
        yield lambda n: None
        return
    with _Bar(total=total, unit=unit, file=stream, dynamic_ncols=True, mininterval=0.2) as bar:
        yield bar.update
