"""The report a retrain run leaves beside its version: models/vNNNN.report/.

- curves.png: training loss and accuracy per epoch (and on the test set)
- confusion.png: the candidate's confusion matrix on the test set
- report.json: every figure, the decision and its reason, and the data used

The PNGs are written before the decision is committed and the JSON inside
that transaction, so a report never claims a decision the database lacks.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.plots.confusion import confusion_matrix_png
from daemon.plots.curves import training_curves_png
from daemon.training_set import CORRECTION_REPEATS, HOLDOUT_FRACTION, TrainingSet
from nnet.history import History
from nnet.metrics import confusion_matrix
from nnet.model import CLASS_NAMES, TrainedModel

if TYPE_CHECKING:
    from daemon.retraining import Decision, Scores

CURVES = "curves.png"
CONFUSION = "confusion.png"
REPORT = "report.json"


@dataclass(frozen=True)
class RunReport:
    version: str
    parent: str | None
    arch: str
    epochs: int
    warm_start: str
    seed: int
    limit: int | None
    training_seconds: float
    data: TrainingSet
    history: History
    candidate: Scores
    current: Scores | None


def report_files(folder: Path) -> dict[str, Path]:
    return {"curves": folder / CURVES, "confusion": folder / CONFUSION, "report": folder / REPORT}


def write_figures(report: RunReport, *, model: TrainedModel, folder: Path) -> dict[str, Any]:
    """Draw both PNGs; returns the confusion matrix, which the JSON also holds."""
    files = report_files(folder)
    folder.mkdir(parents=True, exist_ok=True)
    training_curves_png(report.history, files["curves"], title=f"{report.version} training")
    predicted = model.network.predict(model.input_format.normalize(report.data.test.images))
    matrix = confusion_matrix(report.data.test.labels, predicted, len(CLASS_NAMES))
    confusion_matrix_png(
        matrix, CLASS_NAMES, files["confusion"], title=f"{report.version} on the test set"
    )
    return {"confusion_matrix": np.asarray(matrix).tolist()}


def write_report_json(
    report: RunReport,
    *,
    decision: Decision,
    figures: dict[str, Any],
    min_gain: float,
    folder: Path,
) -> Path:
    data = report.data
    body = {
        "version": report.version,
        "parent": report.parent,
        "status": "active" if decision.promote else "rejected",
        "reason": decision.reason,
        "min_gain": min_gain,
        "arch": report.arch,
        "epochs": report.epochs,
        "warm_start": report.warm_start,
        "seed": report.seed,
        "training_seconds": round(report.training_seconds, 3),
        "candidate": dataclasses.asdict(report.candidate),
        "current": dataclasses.asdict(report.current) if report.current else None,
        "data": {
            "source": str(data.source),
            "fingerprint": data.fingerprint,
            "limit": report.limit,
            "train_examples": len(data.train),
            "test_examples": len(data.test),
            "corrections_train": len(data.corrections.train),
            "corrections_held_out": len(data.corrections.held_out),
            "corrections_skipped": data.corrections.skipped,
            "correction_repeats": CORRECTION_REPEATS,
            "holdout_fraction": HOLDOUT_FRACTION,
        },
        "epochs_history": [dataclasses.asdict(r) for r in report.history.records],
        "class_names": list(CLASS_NAMES),
        **figures,
        "files": {name: path.name for name, path in report_files(folder).items()},
    }
    path = report_files(folder)["report"]
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path
