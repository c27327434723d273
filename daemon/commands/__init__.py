"""The subcommands: one module each, listed in `COMMANDS`.

Every module `daemon.commands.<name>` defines `add_arguments(parser)` and
`run(args)`. The list names them without importing them: the modules import
SQLAlchemy and numpy, which `fashiond --help` and `--version` should not pay
for, so a command's module is imported only once that command is chosen.
Adding a command is adding its module and a line here (a test checks that the
two agree); the order here is the order of `fashiond --help`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class Command:
    name: str  # also its module's name in this package
    help: str  # one line, shown in `fashiond --help`

    @property
    def module(self) -> str:
        return f"{__name__}.{self.name}"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Imports the module now that its command is chosen, not when the parser is built."""
        module = import_module(self.module)
        module.add_arguments(parser)
        parser.set_defaults(handler=module.run)


COMMANDS: tuple[Command, ...] = (
    Command(
        "run", "watch the inbox and label every image dropped into it (foreground, logs to stderr)"
    ),
    Command(
        "status",
        "show whether the daemon is running, its model, queue, counts, throughput and last error",
    ),
    Command("train", "train a model on Fashion-MNIST and write its parameters file"),
    Command(
        "evaluate",
        "score a model on the Fashion-MNIST test set: accuracy, per class, confusion matrix",
    ),
    Command("predict", "label image files now and print label and confidence"),
    Command("plugins", "list the preprocessing plugins: name, source, description, options"),
    Command("history", "list past predictions, newest first, with filters"),
    Command("show", "one prediction: its fields, top 3, revisions, corrections"),
    Command("stats", "counts by label, status, confidence, day, model version"),
    Command("export", "write the filtered history to CSV, JSON or JSON Lines"),
    Command("correct", "give a prediction its right label; the file moves too"),
    Command("corrections", "list the corrections users made, newest first"),
    Command("reprocess", "re-label past items with the deployed model"),
    Command(
        "retrain", "retrain on Fashion-MNIST plus your corrections now; deploy only a better model"
    ),
    Command("models", "list model versions; show, promote or roll back one"),
)
