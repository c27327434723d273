"""The original project's command line, kept working verbatim.

    python main.py --build --epochs 10 --batch-size 30 --save params.pkl
    python main.py --load-params params.pkl --predict_image shirt.png --light-bg
    python main.py --build --save params.pkl --predict_image shirt.png   # all in one call

Each flag maps onto the same functions `fashiond train` and `fashiond predict`
use, through the same error boundary, so the two command lines never disagree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from daemon.cli import guarded
from daemon.commands.predict import add_background_flags
from daemon.commands.train import TrainRequest, train_to_file
from daemon.config import Config, load_config
from daemon.errors import ImageError, UsageError
from daemon.prediction import ImageFailure, build_chain, predict_files
from daemon.progress import ProgressBar
from nnet.model import TrainedModel
from nnet.params_file import load_params, save_params


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint="see 'python main.py --help'")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(description="Train and use the Fashion-MNIST network (original flags).")
    parser.add_argument(
        "--mnist-path",
        type=Path,
        help="Fashion-MNIST: a fashion_mnist_images/ tree or IDX files "
        "(default: ./fashion_mnist_images, then /usr/share/datasets/fashion-mnist)",
    )
    parser.add_argument("--build", action="store_true", help="build and train a new network")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--batch-size", type=int, default=30, help="batch size (default 30)")
    parser.add_argument("--save", type=Path, metavar="FILE", help="save the parameters here")
    parser.add_argument("--load-params", type=Path, metavar="FILE", help="load parameters")
    parser.add_argument(
        "--predict_image", "--predict-image", type=Path, metavar="IMAGE", help="classify an image"
    )
    add_background_flags(parser)
    parser.add_argument("--traceback", action="store_true", help="show tracebacks on errors")
    return parser


def run(args: argparse.Namespace) -> int:
    if not (args.build or args.load_params or args.predict_image):
        raise UsageError(
            "nothing to do", hint="pass --build, --load-params or --predict_image IMAGE"
        )
    if args.epochs < 1 or args.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be at least 1")
    config = load_config(None)
    model: TrainedModel | None = None
    if args.build:
        progress = ProgressBar(quiet=False)
        request = TrainRequest(
            out=args.save,
            data=args.mnist_path or config.data,
            epochs=args.epochs,
            batch_size=args.batch_size,
        )
        try:
            model, _ = train_to_file(request, observer=progress)
        finally:
            progress.close()
        print(f"test accuracy: {model.metadata.test_accuracy:.2%}")
    elif args.load_params:
        model = load_params(args.load_params)
    if args.save and not args.build:
        if model is None:
            raise UsageError("--save needs a network", hint="add --build or --load-params FILE")
        save_params(model, args.save)
    if args.save:
        print(f"saved {args.save}")
    if args.predict_image:
        model = model if model is not None else load_params(config.model)
        return _predict(args.predict_image, model=model, config=config, light_bg=args.light_bg)
    return 0


def _predict(path: Path, *, model: TrainedModel, config: Config, light_bg: bool | None) -> int:
    chain = build_chain(config, model=model, light_bg=light_bg)
    (result,) = predict_files([path], model=model, chain=chain)
    if isinstance(result, ImageFailure):
        raise ImageError(f"{path}: {result.error}", hint="pass a readable image file")
    print(f"{result.path}: {result.label} ({result.confidence:.1%})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return guarded(lambda: run(build_parser().parse_args(argv)), argv=argv)


if __name__ == "__main__":
    sys.exit(main())
