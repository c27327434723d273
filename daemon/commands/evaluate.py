"""`fashiond evaluate`: score a parameters file on the Fashion-MNIST test set."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daemon.commands.options import add_config_option, config_from
from daemon.dataset import load_dataset
from nnet.data import N_CLASSES, Dataset
from nnet.errors import ParamsFileError
from nnet.metrics import confusion_matrix, per_class_accuracy
from nnet.model import TrainedModel
from nnet.params_file import load_params


@dataclass(frozen=True)
class Scores:
    accuracy: float
    matrix: np.ndarray  # int64 [true, predicted]
    class_names: tuple[str, ...]

    @property
    def per_class(self) -> np.ndarray:
        return per_class_accuracy(self.matrix)


def score_model(model: TrainedModel, dataset: Dataset) -> Scores:
    """Test-set accuracy and confusion matrix, predicted in bounded batches."""
    n_inputs = int(np.prod(model.network.input_shape))
    if n_inputs != dataset.test_images[0].size or len(model.class_names) != N_CLASSES:
        raise ParamsFileError(
            f"the model takes {n_inputs} inputs and {len(model.class_names)} classes; "
            "Fashion-MNIST has 784 pixels and 10 classes",
            hint="pass a model trained on Fashion-MNIST",
        )
    inputs = model.input_format.normalize(dataset.test_images)
    predicted = model.network.predict(inputs)
    matrix = confusion_matrix(dataset.test_labels, predicted, len(model.class_names))
    accuracy = float(np.trace(matrix) / matrix.sum())
    return Scores(accuracy=accuracy, matrix=matrix, class_names=model.class_names)


def format_report(scores: Scores, *, model_path: Path, model: TrainedModel) -> str:
    meta = model.metadata
    lines = [
        f"model: {model_path} ({meta.arch}, {meta.epochs} epoch{'' if meta.epochs == 1 else 's'}, "
        f"created {meta.created_at or 'unknown'}, sha256 {model.sha256[:12]})",
        f"test accuracy: {scores.accuracy:.2%} ({int(scores.matrix.sum())} images)",
        "",
        "per-class accuracy:",
    ]
    width = max(len(name) for name in scores.class_names)
    for i, (name, share) in enumerate(zip(scores.class_names, scores.per_class, strict=True)):
        lines.append(f"  {i}  {name:<{width}}  {share:7.2%}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted class):"]
    cell = max(5, len(str(int(scores.matrix.max()))) + 1)
    lines.append(" " * (width + 5) + "".join(f"{i:>{cell}}" for i in range(len(scores.matrix))))
    for i, (name, row) in enumerate(zip(scores.class_names, scores.matrix, strict=True)):
        lines.append(f"  {i}  {name:<{width}}" + "".join(f"{int(n):>{cell}}" for n in row))
    return "\n".join(lines)


def report_json(scores: Scores, *, model_path: Path, model: TrainedModel) -> str:
    return json.dumps(
        {
            "model": str(model_path),
            "sha256": model.sha256,
            "arch": model.metadata.arch,
            "test_accuracy": scores.accuracy,
            "class_names": list(scores.class_names),
            "per_class_accuracy": dict(
                zip(scores.class_names, map(float, scores.per_class), strict=True)
            ),
            "confusion_matrix": scores.matrix.tolist(),
        },
        indent=2,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--model", type=Path, metavar="FILE", help="parameters file (default: config 'model:')"
    )
    parser.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help="Fashion-MNIST folder (default: config 'data:', then the usual places)",
    )
    parser.add_argument(
        "--plot", type=Path, metavar="FILE", help="also draw the confusion matrix as a PNG"
    )
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    model_path = args.model if args.model is not None else config.model
    model = load_params(model_path)
    dataset = load_dataset(args.data, config=config)
    scores = score_model(model, dataset)
    report = report_json if args.json else format_report
    print(report(scores, model_path=model_path, model=model))
    if args.plot is not None:
        from daemon.plots.confusion import confusion_matrix_png

        confusion_matrix_png(
            scores.matrix,
            scores.class_names,
            args.plot,
            title=f"{model_path.name}: test accuracy {scores.accuracy:.2%}",
        )
        if not args.json:
            print(f"\nconfusion matrix drawn in {args.plot}")
    return 0
