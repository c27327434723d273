"""`fashiond predict IMAGE...`: label image files now, without the daemon or the database."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from daemon.cli import format_error
from daemon.commands.options import add_config_option, config_from
from daemon.exit_status import ExitStatus
from daemon.prediction import ImageFailure, as_dict, build_chain, predict_files
from nnet.params_file import load_params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files")
    add_config_option(parser)
    parser.add_argument(
        "--model", type=Path, default=None, metavar="FILE", help="parameters file (default: model:)"
    )
    add_background_flags(parser)
    parser.add_argument(
        "--json", action="store_true", help="print a JSON array with every class's probability"
    )


def add_background_flags(parser: argparse.ArgumentParser) -> None:
    """--light-bg / --no-light-bg, shared with main.py: None means "detect it"."""
    background = parser.add_mutually_exclusive_group()
    background.add_argument(
        "--light-bg",
        dest="light_bg",
        action="store_const",
        const=True,
        default=None,
        help="the photos have a light background: always invert",
    )
    background.add_argument(
        "--no-light-bg",
        dest="light_bg",
        action="store_const",
        const=False,
        help="the photos have a dark background: never invert",
    )


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    model = load_params(args.model if args.model is not None else config.model)
    chain = build_chain(config, model=model, light_bg=args.light_bg)
    results = predict_files(args.images, model=model, chain=chain)
    predictions = []
    for result in results:
        if isinstance(result, ImageFailure):
            print(format_error(_ImageFailedError(result)), file=sys.stderr)
        else:
            predictions.append(result)
    if args.json:
        print(json.dumps([as_dict(p) for p in predictions], indent=2))
    else:
        for p in predictions:
            print(f"{p.path}\t{p.label}\t{p.confidence:.3f}")
    failed = len(results) - len(predictions)
    return ExitStatus.IMAGE if failed else ExitStatus.SUCCESS


class _ImageFailedError(Exception):
    """Formats one image's failure like any other error line: `error: <file>: <step>: <why>`."""

    def __init__(self, failure: ImageFailure) -> None:
        super().__init__(f"{failure.path}: {failure.error}")
        self.hint = failure.error.hint
