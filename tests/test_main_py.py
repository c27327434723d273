"""The original project's `python main.py` flags, run as its users ran them."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnet.data import load_fashion_mnist
from nnet.model import CLASS_NAMES
from nnet.params_file import load_params
from tests.conftest import DEBIAN_DATA, REPO
from tests.idx_files import real_subset


def main_py(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fmnist") / "small"
    return real_subset(DEBIAN_DATA, folder, n_train=3000, n_test=500)


@pytest.fixture(scope="module")
def light_photo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real test image as a user photographs it: dark item on a light page, upscaled."""
    data = load_fashion_mnist(DEBIAN_DATA)
    index = int(np.flatnonzero(data.test_labels == 1)[0])  # a trouser: easy and unambiguous
    pixels = 255 - data.test_images[index]
    path = tmp_path_factory.mktemp("photos") / "trouser photo.png"
    Image.fromarray(pixels).resize((140, 140)).convert("RGB").save(path)
    return path, CLASS_NAMES[1]


@pytest.mark.real_data
def test_build_save_and_predict_in_one_call(
    small_data: Path, light_photo: tuple[Path, str], tmp_path: Path
) -> None:
    photo, _ = light_photo
    params = tmp_path / "params.pkl"
    result = main_py(
        "--mnist-path",
        small_data,
        "--build",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--save",
        params,
        "--predict_image",
        photo,
        "--light-bg",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy:" in result.stdout
    assert load_params(params).metadata.epochs == 2
    prediction = result.stdout.strip().splitlines()[-1]
    assert prediction.startswith(f"{photo}: ")
    assert prediction.split(": ", 1)[1].rsplit(" (", 1)[0] in CLASS_NAMES


@pytest.mark.real_data
def test_load_params_and_predict_with_either_flag_spelling(
    small_data: Path, light_photo: tuple[Path, str], tmp_path: Path
) -> None:
    photo, label = light_photo
    params = tmp_path / "params.pkl"
    built = main_py(
        "--mnist-path", small_data, "--build", "--epochs", "3", "--save", params, cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr
    for flag in ("--predict_image", "--predict-image"):
        result = main_py("--load-params", params, flag, photo, "--light-bg", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f": {label} (" in result.stdout


def test_the_original_projects_params_files_still_load(
    light_photo: tuple[Path, str], tmp_path: Path
) -> None:
    """Its `--save` wrote a bare list of (weights, biases) pairs."""
    rng = np.random.default_rng(0)
    pairs = [
        (rng.standard_normal((784, 64)).astype(np.float32) * 0.05, np.zeros((1, 64))),
        (rng.standard_normal((64, 10)).astype(np.float32) * 0.05, np.zeros((1, 10))),
    ]
    legacy = tmp_path / "legacy.pkl"
    legacy.write_bytes(pickle.dumps(pairs))
    result = main_py("--load-params", legacy, "--predict_image", light_photo[0], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(": ", 1)[1].rsplit(" (", 1)[0] in CLASS_NAMES


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        ((), 2, "nothing to do"),
        (("--build", "--epochs", "0"), 2, "--epochs"),
        (("--load-params", "missing.pkl"), 4, "missing.pkl"),
        (("--predict_image", "x.png", "--light-bg", "--no-light-bg"), 2, "not allowed"),
        (("--build", "--mnist-path", "nowhere"), 3, "nowhere"),
    ],
)
def test_user_errors_are_one_line_with_a_distinct_exit_code(
    tmp_path: Path, args: tuple[str, ...], status: int, says: str
) -> None:
    result = main_py(*args, cwd=tmp_path)
    assert result.returncode == status, result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert says in result.stderr


def test_an_unreadable_image_is_exit_6(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    legacy = tmp_path / "legacy.pkl"
    legacy.write_bytes(pickle.dumps([(rng.standard_normal((784, 10)), np.zeros(10))]))
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not a picture")
    result = main_py("--load-params", legacy, "--predict_image", not_an_image, cwd=tmp_path)
    assert result.returncode == 6
    assert result.stderr.startswith("error: ") and "notes.png" in result.stderr
    assert not_an_image.read_text() == "not a picture"
