"""What training reports as it goes, and what it leaves behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    loss: float  # mean training loss, regularisation included
    accuracy: float  # training accuracy, with dropout and augmentation active
    val_loss: float | None
    val_accuracy: float | None
    seconds: float


@dataclass
class History:
    records: list[EpochRecord] = field(default_factory=list)

    @property
    def last(self) -> EpochRecord | None:
        return self.records[-1] if self.records else None


class TrainingObserver(Protocol):
    """Receives progress; the command line shows it as a bar, scripts pass nothing."""

    def epoch_started(self, epoch: int, epochs: int, batches: int) -> None: ...

    def batch_finished(self, loss: float, accuracy: float) -> None: ...

    def epoch_finished(self, record: EpochRecord) -> None: ...
