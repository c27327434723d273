"""The worker pool: a raising plugin fails one file; a dying worker fails only its culprit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from daemon.config import PluginEntry
from tests.daemon_support import config_for, make_model, png, running, wait_for_rows

SABOTEUR = """
import os

from plugins.api import Context, Image, Preprocessor


class Saboteur(Preprocessor):
    name = "saboteur"
    description = "raises on files named raise*, kills its process on files named die*"

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        if context.path.name.startswith("raise"):
            raise RuntimeError("refused on purpose")
        if context.path.name.startswith("die"):
            os._exit(3)  # as a segfault in a decoder would
        return image
"""


def test_plugin_errors_and_dead_workers_fail_only_their_file(tmp_path: Path) -> None:
    make_model(tmp_path / "models" / "current.pickle")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "saboteur.py").write_text(SABOTEUR, encoding="utf-8")
    config = config_for(tmp_path, workers=2, plugins_dir=tmp_path / "plugins")
    chain = [PluginEntry("saboteur"), *config.preprocess]
    config = dataclasses.replace(config, preprocess=chain)
    config.inbox.mkdir(parents=True)
    names = ["ok1.png", "raise.png", "ok2.png", "die.png", "ok3.png"]
    for i, name in enumerate(names):
        (config.inbox / name).write_bytes(png(i))
    with running(config):
        found = {r["filename"]: r for r in wait_for_rows(config, len(names))}
        (config.inbox / "after.png").write_bytes(png(9))
        wait_for_rows(config, len(names) + 1)
    assert {n: found[n]["status"] for n in names} == {
        "ok1.png": "labeled",
        "raise.png": "failed",
        "ok2.png": "labeled",
        "die.png": "failed",
        "ok3.png": "labeled",
    }
    assert found["raise.png"]["failed_plugin"] == "saboteur"
    assert "refused on purpose" in found["raise.png"]["error"]
    assert "crashed" in found["die.png"]["error"]
    assert (config.failed_dir / "die.png.error.txt").exists()
