"""`fashiond predict` and `fashiond plugins` as a user runs them, and a third-party package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from daemon.config import load_config
from daemon.prediction import ImageFailure, ImagePrediction, build_chain, predict_files
from nnet.architectures import MLP, build_network
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.params_file import load_params, save_params

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "fashiond-plugin-example"


def fashiond(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained network: enough to check what the commands print, not what it knows."""
    metadata = TrainingMetadata(
        arch="mlp",
        epochs=0,
        batch_size=1,
        seed=0,
        test_accuracy=None,
        created_at="2026-01-01T00:00:00+00:00",
        data_fingerprint="none",
    )
    model = TrainedModel(build_network(MLP.spec, seed=0), CLASS_NAMES, InputFormat(), metadata)
    path = tmp_path_factory.mktemp("model") / "model.pickle"
    save_params(model, path)
    return path


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    photo = Image.new("RGB", (300, 400), (235, 235, 235))
    photo.paste((40, 40, 90), (100, 60, 200, 340))
    good = [tmp_path / "shirt.jpg", tmp_path / "small.png"]
    photo.save(good[0], quality=85)
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(good[1])
    broken = tmp_path / "broken.png"
    broken.write_text("not really a png\n")
    return [good[0], broken, good[1]]


def test_predict_prints_one_line_per_image_and_exit_6_for_a_bad_one(
    tmp_path: Path, model_file: Path, images: list[Path]
) -> None:
    result = fashiond("predict", *map(str, images), "--model", str(model_file), cwd=tmp_path)
    assert result.returncode == 6
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, (images[0], images[2]), strict=True):
        shown, label, confidence = line.split("\t")
        assert shown == str(path)
        assert label in CLASS_NAMES
        assert 0.0 < float(confidence) <= 1.0
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {images[1]}: open: ")
    assert "Traceback" not in result.stderr


def test_predict_json_has_every_probability(
    tmp_path: Path, model_file: Path, images: list[Path]
) -> None:
    result = fashiond(
        "predict", str(images[0]), "--model", str(model_file), "--light-bg", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)
    assert record["path"] == str(images[0])
    assert set(record["probabilities"]) == set(CLASS_NAMES)
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert record["confidence"] == max(record["probabilities"].values())
    assert record["label"] == max(record["probabilities"], key=record["probabilities"].get)


def test_predict_without_a_model_is_one_error_line(tmp_path: Path, images: list[Path]) -> None:
    result = fashiond("predict", str(images[0]), cwd=tmp_path)
    assert result.returncode == 4
    assert result.stderr.startswith("error: parameters file ")


def test_light_bg_flags_set_the_invert_mode(model_file: Path, images: list[Path]) -> None:
    model = load_params(model_file)
    config = load_config(None)
    always = build_chain(config, model=model, light_bg=True)
    never = build_chain(config, model=model, light_bg=False)
    photo = images[0].read_bytes()
    assert always.pixels_bytes(photo, path=images[0])[0, 0] < 40
    assert never.pixels_bytes(photo, path=images[0])[0, 0] > 200
    results = predict_files(images, model=model, chain=always)
    assert [type(r) for r in results] == [ImagePrediction, ImageFailure, ImagePrediction]
    assert results[1].error.plugin == "open"  # type: ignore[union-attr]


def plugin_file(folder: Path, name: str, *, options: str = "()", returns: str = "image") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(
        "from PIL import ImageFilter\n"
        "from plugins.api import Option, Preprocessor\n\n"
        "class Plugin(Preprocessor):\n"
        f"    name = {name!r}\n"
        f"    description = 'the {name} step'\n"
        f"    options = {options}\n\n"
        "    def process(self, image, context):\n"
        f"        return {returns}\n"
    )
    return path


def test_light_bg_needs_an_invert_step(
    tmp_path: Path, model_file: Path, images: list[Path]
) -> None:
    (tmp_path / "config.yaml").write_text("preprocess: [grayscale, crop, resize, normalize]\n")
    result = fashiond(
        "predict", str(images[0]), "--model", str(model_file), "--no-light-bg", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "invert" in result.stderr
    assert result.stderr.count("\n") == 1


def test_plugins_lists_name_source_description_and_options(tmp_path: Path) -> None:
    folder = tmp_path / "extra"
    plugin_file(
        folder,
        "blur",
        options="(Option('radius', float, 1.5, 'blur radius in pixels'),)",
        returns="image.filter(ImageFilter.GaussianBlur(context.options['radius']))",
    )
    config = tmp_path / "config.yaml"
    config.write_text("plugins_dir: extra\npreprocess: [grayscale, blur, resize, normalize]\n")
    result = fashiond("plugins", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"blur  ({folder / 'blur.py'})  [in the chain]" in out
    assert "the blur step" in out
    assert "radius: float = 1.5" in out
    assert "invert  (built-in)" in out
    assert "mode: str = auto (auto | always | never)" in out
    assert "chain: grayscale, blur, resize, normalize" in out


def test_plugins_reports_a_clash_as_one_error_line(tmp_path: Path) -> None:
    plugin_file(tmp_path / "extra", "resize")
    (tmp_path / "config.yaml").write_text("plugins_dir: extra\n")
    result = fashiond("plugins", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith('error: Plugin "resize" is defined twice: by built-in and by ')


def test_example_package_installs_and_joins_the_chain(
    tmp_path: Path, model_file: Path, images: list[Path]
) -> None:
    """pip-installs examples/ into a private folder; the installed venv is left alone."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source)  # building writes build/ and egg-info next to the sources
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    install = subprocess.run(
        [*pip, "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    listed = fashiond("plugins", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "autocontrast  (fashiond-plugin-example 0.1.0)" in listed.stdout
    assert "cutoff: float = 1.0" in listed.stdout
    (tmp_path / "config.yaml").write_text(
        "preprocess:\n  - grayscale\n  - autocontrast: {cutoff: 2.0}\n"
        "  - invert\n  - crop\n  - resize\n  - normalize\n"
    )
    used = fashiond("predict", str(images[0]), "--model", str(model_file), cwd=tmp_path, env=env)
    assert used.returncode == 0, used.stderr
    assert used.stdout.startswith(f"{images[0]}\t")
    (tmp_path / "config.yaml").write_text("preprocess:\n  - autocontrast: {cutof: 2.0}\n")
    typo = fashiond("predict", str(images[0]), "--model", str(model_file), cwd=tmp_path, env=env)
    assert typo.returncode == 2
    assert 'plugin "autocontrast": unknown option "cutof"' in typo.stderr
