"""`fashiond train`: train a model on Fashion-MNIST and write its parameters file."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from daemon.commands.options import add_config_option, config_from
from daemon.config import Config
from daemon.dataset import load_dataset
from daemon.errors import ConfigError
from nnet.architectures import ARCHITECTURES, get_architecture
from nnet.data import Dataset
from nnet.history import History, TrainingObserver
from nnet.model import TrainedModel
from nnet.params_file import save_params
from nnet.training import train_model


@dataclass(frozen=True)
class TrainRequest:
    """What to train; None means the config's `train:` value, then the recipe's."""

    out: Path | None  # None: train without saving (main.py --build without --save)
    data: Path | None = None
    arch: str = "mlp"
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0


def train_to_file(
    request: TrainRequest,
    *,
    dataset: Dataset | None = None,
    observer: TrainingObserver | None = None,
) -> tuple[TrainedModel, History]:
    """Load the data (unless given), train, and save atomically to `request.out`.

    This is the whole of `train`; main.py and scripts call it, and the command
    only adds flags and printing.
    """
    arch = get_architecture(request.arch)
    if dataset is None:
        dataset = load_dataset(request.data)
    model, history = train_model(
        arch,
        train_images=dataset.train_images,
        train_labels=dataset.train_labels,
        test_images=dataset.test_images,
        test_labels=dataset.test_labels,
        epochs=request.epochs,
        batch_size=request.batch_size,
        seed=request.seed,
        observer=observer,
    )
    if request.out is not None:
        save_params(model, request.out)
    return model, history


def request_from(args: argparse.Namespace, config: Config) -> TrainRequest:
    """Flags win over config.yaml's `train:` section, which wins over the recipe."""
    train = config.train
    arch = args.arch or train.arch
    if arch not in ARCHITECTURES:
        raise ConfigError(
            f"{config.source or 'config'}: train.arch: unknown architecture {arch!r}",
            hint=f"choose one of: {', '.join(sorted(ARCHITECTURES))}",
        )
    if args.seed is None and train.seed < 0:
        raise ConfigError(
            f"{config.source or 'config'}: train.seed: must be >= 0, got {train.seed}",
            hint="use a seed of 0 or more",
        )
    return TrainRequest(
        out=args.out if args.out is not None else config.model,
        data=args.data if args.data is not None else config.data,
        arch=arch,
        epochs=args.epochs if args.epochs is not None else train.epochs,
        batch_size=args.batch_size if args.batch_size is not None else train.batch_size,
        seed=args.seed if args.seed is not None else train.seed,
    )


def _whole_number(text: str, *, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, least=1)


def _seed(text: str) -> int:
    return _whole_number(text, least=0)  # numpy's generators take no negative seeds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help="Fashion-MNIST folder: IDX files or a fashion_mnist_images/ tree "
        "(default: config 'data:', then ./fashion_mnist_images, then "
        "/usr/share/datasets/fashion-mnist)",
    )
    parser.add_argument(
        "--arch",
        choices=sorted(ARCHITECTURES),
        help="network architecture (default: config 'train.arch', mlp)",
    )
    parser.add_argument(
        "--epochs", type=_positive_int, metavar="N", help="default: the architecture's recipe"
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, metavar="B", help="default: the architecture's recipe"
    )
    parser.add_argument("--seed", type=_seed, metavar="S", help="default: config 'train.seed', 0")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="parameters file to write (default: config 'model:')",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final accuracy")
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when the output file already exists (used by 'make model')",
    )


def run(args: argparse.Namespace) -> int:
    from daemon.progress import ProgressBar

    config = config_from(args)
    request = request_from(args, config)
    if args.if_missing and request.out.exists():
        if not args.quiet:
            print(f"{request.out} exists; not training (drop --if-missing to retrain)")
        return 0
    dataset = load_dataset(request.data)
    progress = ProgressBar(quiet=args.quiet)
    if not args.quiet:
        print(
            f"training {request.arch} on {len(dataset.train_images)} images "
            f"from {dataset.source} -> {request.out}",
            file=sys.stderr,
        )
    try:
        model, history = train_to_file(request, dataset=dataset, observer=progress)
    finally:
        progress.close()
    seconds = sum(record.seconds for record in history.records)
    print(
        f"test accuracy: {model.metadata.test_accuracy:.2%} "
        f"({_epochs(model.metadata.epochs)}, {seconds:.0f} s); saved {request.out}"
    )
    return 0


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"
