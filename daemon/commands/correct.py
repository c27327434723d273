"""`fashiond correct ID LABEL`: the user's label for one prediction."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from daemon.commands.options import add_config_option, add_db_option, opened_database
from daemon.config import Config
from daemon.corrections import PixelsReader, correct_prediction
from daemon.errors import FashiondError
from daemon.history_filters import resolve_label


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)
    parser.add_argument("id", type=int, metavar="ID", help="prediction id, as history shows it")
    parser.add_argument("label", metavar="LABEL", help="class name (any case) or index 0-9")


def run(args: argparse.Namespace) -> int:
    label = resolve_label(args.label)
    with opened_database(args) as (config, db):
        try:
            outcome = correct_prediction(
                db,
                prediction_id=args.id,
                label=label,
                config=config,
                read_pixels=_pixels_reader(config),
            )
        except OSError as exc:
            raise FashiondError(
                f"correction of {args.id} is recorded, but its file could not be moved: {exc}",
                hint="fix the cause and run the same command again to finish the move",
            ) from None
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if outcome.correction_id is None and outcome.moved_to is None:
        print(f"{args.id} is already corrected to {label}")
        return 0
    if outcome.correction_id is None:
        print(f"{args.id}: finished moving {outcome.moved_from} -> {outcome.moved_to}")
        return 0
    if outcome.previous_label == label:
        print(f"{args.id}: {label} (confirmed: the model's label was right)")
    else:
        print(f"{args.id}: {outcome.previous_label or '-'} -> {label}")
    if outcome.moved_to is not None:
        print(f"  moved {outcome.moved_from} -> {outcome.moved_to}")
    return 0


def _pixels_reader(config: Config) -> PixelsReader:
    """The chain's pixels at the deployed model's input size (28x28 without a model)."""
    from daemon.prediction import build_chain
    from daemon.reprocessing import read_image
    from nnet.errors import NnetError
    from nnet.params_file import load_params
    from plugins.chain import Chain

    try:
        chain = build_chain(config, model=load_params(config.model))
    except (NnetError, OSError):
        entries = [(entry.name, entry.options) for entry in config.preprocess]
        chain = Chain.build(entries, plugins_dir=config.plugins_dir)

    def read(path: Path) -> np.ndarray:
        return chain.pixels_bytes(read_image(path), path=path)

    return read
