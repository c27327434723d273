"""The chain: building from config entries, option checks, and one image failing alone."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from daemon.config import Config, load_config
from plugins.api import ModelInput
from plugins.chain import DEFAULT_ENTRIES, Chain
from plugins.errors import PluginConfigError, StepError

DEFAULT = list(DEFAULT_ENTRIES)
REPO = Path(__file__).resolve().parent.parent


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def item_on_dark(size: int = 28) -> Image.Image:
    pixels = np.zeros((size, size), dtype=np.uint8)
    pixels[size // 8 : -size // 8, size // 4 : -size // 4] = 200
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.build(DEFAULT)


def test_default_chain_gives_network_input(chain: Chain) -> None:
    out = chain.run_bytes(png_bytes(item_on_dark()), path=Path("x.png"))
    assert out.shape == (28, 28)
    assert out.dtype == np.float32
    assert out.min() == pytest.approx(-1.0)
    assert out.max() == pytest.approx(1.0)
    assert chain.names == ("grayscale", "invert", "crop", "resize", "normalize")


def test_default_entries_match_the_config_default() -> None:
    config = Config()
    assert [(e.name, e.options) for e in config.preprocess] == DEFAULT
    assert [(e.name, e.options) for e in load_config(REPO / "config.yaml").preprocess] == DEFAULT


def test_normalize_uses_the_model_input_range() -> None:
    chain = Chain.build(DEFAULT, model_input=ModelInput(size=(20, 24), offset=0.0, scale=255.0))
    out = chain.run_bytes(png_bytes(item_on_dark()), path=Path("x.png"))
    assert out.shape == (20, 24)
    assert out.min() == pytest.approx(0.0)
    assert out.max() == pytest.approx(1.0)


def test_pixels_bytes_stops_before_normalize(chain: Chain) -> None:
    pixels = chain.pixels_bytes(png_bytes(item_on_dark(100)), path=Path("x.png"))
    assert pixels.dtype == np.uint8
    assert pixels.shape == (28, 28)
    assert pixels[0, 0] == 0
    assert pixels.max() == 255


def test_run_reads_the_file(tmp_path: Path, chain: Chain) -> None:
    path = tmp_path / "x.png"
    item_on_dark().save(path)
    assert chain.run(path).shape == (28, 28)
    with pytest.raises(StepError) as info:
        chain.run(tmp_path / "missing.png")
    assert info.value.plugin == "open"


def test_unknown_plugin_lists_the_available_names() -> None:
    with pytest.raises(PluginConfigError) as info:
        Chain.build([("grayscal", {})])
    assert str(info.value) == 'Unknown plugin: "grayscal"'
    assert info.value.hint is not None
    for name in ("grayscale", "invert", "crop", "resize", "normalize"):
        assert name in info.value.hint


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (("invert", {"mdoe": "auto"}), ["invert", "mdoe"]),
        (("invert", {"mode": 3}), ["invert", "mode", "a string"]),
        (("invert", {"mode": "sometimes"}), ["invert", "mode", "auto, always, never"]),
        (("crop", {"stretch": "yes"}), ["crop", "stretch", "true or false"]),
        (("crop", {"threshold": 2.5}), ["crop", "threshold", "whole number"]),
        (("crop", {"threshold": True}), ["crop", "threshold", "whole number"]),
        (("normalize", {"scale": 1}), ["normalize", "scale"]),
    ],
)
def test_bad_options_name_the_plugin_and_the_option(
    entry: tuple[str, dict[str, object]], words: list[str]
) -> None:
    with pytest.raises(PluginConfigError) as info:
        Chain.build([entry, ("normalize", {})])
    for word in words:
        assert word in str(info.value)


def test_an_int_is_accepted_for_a_float_option() -> None:
    Chain.build([("crop", {"margin": 0}), ("normalize", {})])


def test_empty_chain_is_refused() -> None:
    with pytest.raises(PluginConfigError):
        Chain.build([])


def _corrupt_crc(data: bytes) -> bytes:
    """Flip one byte of the IHDR chunk's data, leaving its checksum stale."""
    broken = bytearray(data)
    broken[16 + 3] ^= 0xFF
    return bytes(broken)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG header claiming a huge size, with a tiny IDAT: only the header matters."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda good: b"", id="zero-bytes"),
        pytest.param(lambda good: b"just some text, named .png\n", id="text"),
        pytest.param(_truncated, id="truncated"),
        pytest.param(_corrupt_crc, id="bad-crc"),
        pytest.param(lambda good: _bomb_png(8_500, 8_500), id="bomb-our-limit"),
        pytest.param(lambda good: _bomb_png(12_000, 12_000), id="bomb-pillow-warning"),
        pytest.param(lambda good: _bomb_png(30_000, 30_000), id="bomb-pillow-error"),
    ],
)
def test_unreadable_files_fail_in_open(chain: Chain, make: object) -> None:
    good = png_bytes(item_on_dark(64))
    with pytest.raises(StepError) as info:
        chain.run_bytes(make(good), path=Path("bad.png"))  # type: ignore[operator]
    assert info.value.plugin == "open"


def test_a_good_image_still_works_after_bad_ones(chain: Chain) -> None:
    for bad in (b"", _bomb_png(30_000, 30_000)):
        with pytest.raises(StepError):
            chain.run_bytes(bad, path=Path("bad.png"))
    assert chain.run_bytes(png_bytes(item_on_dark()), path=Path("x.png")).shape == (28, 28)
