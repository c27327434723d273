"""Discovery (entry points and plugins_dir), name clashes, and a bad plugin failing one image."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.chain import Chain
from plugins.errors import PluginConfigError, StepError
from plugins.registry import discover

BUILTINS = ("grayscale", "invert", "crop", "resize", "normalize")


def write_plugin(folder: Path, filename: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / filename
    header = "from plugins.api import Context, Image, Option, Preprocessor\n"
    path.write_text(header + textwrap.dedent(body))
    return path


def png_bytes(size: int = 28) -> bytes:
    pixels = np.zeros((size, size), dtype=np.uint8)
    pixels[4:-4, 8:-8] = 180
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


SHARPEN = """
from PIL import ImageFilter

class Sharpen(Preprocessor):
    name = "sharpen"
    description = "sharpen edges"
    options = (Option("passes", int, 1, "how many times"),)

    def process(self, image: Image.Image, context: Context) -> Image.Image:
        for _ in range(context.options["passes"]):
            image = image.filter(ImageFilter.SHARPEN)
        return image
"""


def test_builtins_come_from_the_entry_point_group() -> None:
    found = discover()
    for name in BUILTINS:
        assert found[name].source == "built-in"
        assert found[name].plugin.name == name


def test_plugins_dir_files_are_discovered_and_usable(tmp_path: Path) -> None:
    path = write_plugin(tmp_path / "plugins", "sharpen.py", SHARPEN)
    found = discover(plugins_dir=tmp_path / "plugins")
    assert found["sharpen"].source == str(path)
    chain = Chain.build(
        [("grayscale", {}), ("sharpen", {"passes": 2}), ("resize", {}), ("normalize", {})],
        plugins_dir=tmp_path / "plugins",
    )
    assert chain.run_bytes(png_bytes(), path=Path("x.png")).shape == (28, 28)
    with pytest.raises(PluginConfigError, match=r'"sharpen".*"passes"'):
        Chain.build([("sharpen", {"passes": "2"})], plugins_dir=tmp_path / "plugins")


def test_underscore_files_are_shared_code_not_plugins(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "_shared.py").write_text("FACTOR = 2\n")
    assert set(discover(plugins_dir=tmp_path / "plugins")) == set(BUILTINS)


def test_a_file_reusing_a_builtin_name_names_both_sources(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path / "plugins",
        "my_crop.py",
        """
        class MyCrop(Preprocessor):
            name = "crop"
            description = "another crop"

            def process(self, image, context):
                return image
        """,
    )
    with pytest.raises(PluginConfigError) as info:
        discover(plugins_dir=tmp_path / "plugins")
    message = str(info.value)
    assert '"crop"' in message
    assert "built-in" in message
    assert str(path) in message


def test_two_files_with_one_name_name_both_files(tmp_path: Path) -> None:
    first = write_plugin(tmp_path / "plugins", "a.py", SHARPEN)
    second = write_plugin(tmp_path / "plugins", "b.py", SHARPEN)
    with pytest.raises(PluginConfigError) as info:
        discover(plugins_dir=tmp_path / "plugins")
    assert str(first) in str(info.value)
    assert str(second) in str(info.value)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("def broken(:\n", ["SyntaxError"]),
        ("import no_such_module_anywhere\n", ["ModuleNotFoundError"]),
        ("X = 1\n", ["no Preprocessor subclass"]),
        (
            "class P(Preprocessor):\n    name = 'Bad Name'\n    description = 'x'\n"
            "    def process(self, image, context):\n        return image\n",
            ["valid `name`"],
        ),
        (
            "class P(Preprocessor):\n    name = 'p'\n"
            "    def process(self, image, context):\n        return image\n",
            ["description"],
        ),
        ("class P(Preprocessor):\n    name = 'p'\n    description = 'x'\n", ["process()"]),
        (
            "class P(Preprocessor):\n    name = 'p'\n    description = 'x'\n"
            "    options = (Option('o', list, [], 'x'),)\n"
            "    def process(self, image, context):\n        return image\n",
            ["bad option"],
        ),
    ],
)
def test_a_bad_plugin_file_is_a_config_error_naming_it(
    tmp_path: Path, body: str, words: list[str]
) -> None:
    path = write_plugin(tmp_path / "plugins", "bad.py", body)
    with pytest.raises(PluginConfigError) as info:
        discover(plugins_dir=tmp_path / "plugins")
    assert str(path) in str(info.value)
    for word in words:
        assert word in str(info.value)
    assert info.value.hint


def test_plugins_dir_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(PluginConfigError, match="not a folder"):
        discover(plugins_dir=tmp_path / "missing")


MISBEHAVING = """
import numpy as np

class Raises(Preprocessor):
    name = "raises"
    description = "fails on purpose"

    def process(self, image, context):
        raise RuntimeError("boom")


class ReturnsArray(Preprocessor):
    name = "returns-array"
    description = "returns numpy instead of an image"

    def process(self, image, context):
        return np.asarray(image)


class ReturnsEmpty(Preprocessor):
    name = "returns-empty"
    description = "returns a 0x0 image"

    def process(self, image, context):
        return image.crop((0, 0, 0, 0))


class Tiny(Preprocessor):
    name = "tiny"
    description = "a float image of the wrong size"

    def process(self, image, context):
        return image.convert("F").resize((5, 5))


class Mutates(Preprocessor):
    name = "mutates"
    description = "tries to change its options for the next image"

    def process(self, image, context):
        context.options["level"] = 3
        return image


class PrepareRaises(Preprocessor):
    name = "prepare-raises"
    description = "fails before decoding"

    def prepare(self, image, context):
        raise ValueError("not today")

    def process(self, image, context):
        return image
"""


@pytest.mark.parametrize(
    ("entries", "step", "words"),
    [
        (["raises", "normalize"], "raises", ["RuntimeError", "boom"]),
        (["returns-array", "normalize"], "returns-array", ["ndarray", "not a Pillow image"]),
        (["returns-empty", "normalize"], "returns-empty", ["empty"]),
        (["grayscale", "tiny"], "tiny", ["5x5", "28x28"]),
        (["grayscale", "resize"], "resize", ['mode "L"', "normalize"]),
        (["prepare-raises", "normalize"], "prepare-raises", ["ValueError", "not today"]),
        (["crop", "normalize"], "crop", ["grayscale"]),
        (["mutates", "normalize"], "mutates", ["TypeError", "item assignment"]),
    ],
)
def test_a_misbehaving_step_fails_only_that_image(
    tmp_path: Path, entries: list[str], step: str, words: list[str]
) -> None:
    write_plugin(tmp_path / "plugins", "misbehaving.py", MISBEHAVING)
    chain = Chain.build([(name, {}) for name in entries], plugins_dir=tmp_path / "plugins")
    rgb = Image.new("RGB", (40, 30), (200, 10, 10))
    buf = io.BytesIO()
    rgb.save(buf, "PNG")
    with pytest.raises(StepError) as info:
        chain.run_bytes(buf.getvalue(), path=Path("x.png"))
    assert info.value.plugin == step
    for word in words:
        assert word in str(info.value)
    good = Chain.build([("grayscale", {}), ("resize", {}), ("normalize", {})])
    assert good.run_bytes(buf.getvalue(), path=Path("x.png")).shape == (28, 28)
