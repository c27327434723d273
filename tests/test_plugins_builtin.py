"""Each built-in plugin on real image files of every kind it claims to handle."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.api import Context, ModelInput
from plugins.chain import Chain
from plugins.registry import discover

REPO = Path(__file__).resolve().parent.parent
UPRIGHT = [
    ("grayscale", {}),
    ("invert", {"mode": "never"}),
    ("resize", {"resample": "nearest"}),
]


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def pixels(entries: list[tuple[str, dict[str, object]]], data: bytes) -> np.ndarray:
    return Chain.build(entries).pixels_bytes(data, path=Path("x"))


def gray(data: bytes) -> np.ndarray:
    """The image after grayscale alone, at its own size."""
    return pixels([("grayscale", {})], data)


# --- grayscale --------------------------------------------------------------------


def test_rgb_becomes_luma() -> None:
    out = gray(encode(Image.new("RGB", (10, 8), (255, 0, 0))))
    assert out.shape == (8, 10)
    assert np.all(out == 76)  # ITU-R 601 luma of pure red


@pytest.mark.parametrize(
    ("option", "item_level", "expected"),
    [
        ("auto", 50, 255),  # a dark item: white behind it
        ("auto", 220, 0),  # a light item: black behind it
        ("white", 220, 255),
        ("black", 50, 0),
    ],
)
def test_rgba_is_composited_on_the_background(option: str, item_level: int, expected: int) -> None:
    image = Image.new("RGBA", (20, 20), (10, 200, 30, 0))  # a transparent, coloured ground
    image.paste((item_level, item_level, item_level, 255), (5, 5, 15, 15))
    out = pixels([("grayscale", {"background": option})], encode(image))
    assert out[0, 0] == expected
    assert out[10, 10] == item_level


def test_transparent_gif_uses_its_declared_background_colour() -> None:
    image = Image.new("P", (12, 12), 0)
    image.putpalette([0, 0, 0, 200, 200, 200, 30, 30, 30] + [0] * 759)
    image.paste(2, (3, 3, 9, 9))
    out = gray(encode(image, "GIF", transparency=0, background=1, optimize=False))
    assert out[0, 0] == 200
    assert out[5, 5] == 30


def test_palette_with_and_without_transparency() -> None:
    plain = Image.new("P", (12, 12), 1)
    plain.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    assert np.all(gray(encode(plain)) == 29)  # luma of pure blue
    clear = plain.copy()
    clear.info["transparency"] = 1
    assert np.all(gray(encode(clear, transparency=1)) == 255)


def test_16_bit_grayscale_is_scaled_not_clipped() -> None:
    wide = np.full((6, 6), 65535, dtype=np.uint16)
    wide[0, 0] = 32896  # half way
    image = Image.fromarray(wide)
    assert image.mode == "I;16"
    out = gray(encode(image))
    assert out[1, 1] == 255
    assert out[0, 0] == 128


def test_cmyk_jpeg() -> None:
    image = Image.new("CMYK", (16, 16), (0, 0, 0, 0))  # no ink: white
    image.paste((0, 0, 0, 255), (4, 4, 12, 12))  # full black ink
    out = gray(encode(image, "JPEG", quality=95))
    assert out[0, 0] > 240
    assert out[8, 8] < 15


def test_exif_orientation_is_applied() -> None:
    image = Image.new("L", (30, 10), 0)
    image.paste(255, (0, 0, 5, 10))  # a bright stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turned 90 degrees clockwise
    out = gray(encode(image, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.shape == (30, 10)
    assert out[:5].mean() > 200  # the stripe is now along the top
    assert out[-5:].mean() < 50


def test_animated_gif_uses_its_first_frame() -> None:
    frames = [Image.new("L", (10, 10), 20), Image.new("L", (10, 10), 230)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert np.all(gray(data) == 20)


def test_animated_png_uses_its_first_frame() -> None:
    frames = [Image.new("RGB", (10, 10), (30, 30, 30)), Image.new("RGB", (10, 10), (220,) * 3)]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    assert np.all(gray(data) == 30)


def test_grayscale_la_and_bilevel() -> None:
    la = Image.new("LA", (8, 8), (0, 0))
    la.paste((100, 255), (2, 2, 6, 6))
    out = gray(encode(la))
    assert out[0, 0] == 255
    assert out[3, 3] == 100
    bilevel = Image.new("1", (8, 8), 1)
    assert np.all(gray(encode(bilevel)) == 255)


# --- invert -----------------------------------------------------------------------


def item(background: int, foreground: int, size: int = 60) -> bytes:
    image = Image.new("L", (size, size), background)
    image.paste(foreground, (size // 4, size // 6, 3 * size // 4, 5 * size // 6))
    return encode(image)


@pytest.mark.parametrize(
    ("mode", "background", "corner"),
    [
        ("auto", 240, 15),
        ("auto", 10, 10),
        ("always", 10, 245),
        ("never", 240, 240),
    ],
)
def test_invert_modes(mode: str, background: int, corner: int) -> None:
    out = pixels([("grayscale", {}), ("invert", {"mode": mode})], item(background, 120))
    assert out[0, 0] == corner


def test_auto_invert_ignores_an_item_touching_the_edges() -> None:
    image = Image.new("L", (40, 40), 250)
    image.paste(30, (0, 10, 40, 30))  # a wide item crossing the left and right edges
    out = pixels([("grayscale", {}), ("invert", {})], encode(image))
    assert out[0, 20] == 5


# --- crop -------------------------------------------------------------------------


def test_crop_frames_the_item_like_fashion_mnist() -> None:
    canvas = Image.new("L", (400, 300), 0)
    canvas.paste(100, (250, 40, 300, 240))  # 50 wide, 200 tall, off centre
    out = pixels([("grayscale", {}), ("crop", {})], encode(canvas))
    assert out.shape == (200, 200)  # the long side fills the frame
    columns = np.flatnonzero(out.max(axis=0))
    assert columns[0] == 75 and columns[-1] == 124  # centred on the short side
    assert out.max() == 255  # stretched: the item's level becomes white
    assert out[0, 0] == 0


def test_a_white_garment_on_grey_comes_out_light_on_black() -> None:
    photo = Image.new("L", (200, 200), 190)  # grey ground
    photo.paste(250, (60, 20, 140, 180))  # a white shirt
    out = pixels([("grayscale", {}), ("invert", {}), ("crop", {})], encode(photo))
    assert out.shape == (160, 160)
    assert out[0, 0] == 0
    assert out[80, 80] == 255


def test_crop_margin_and_no_stretch() -> None:
    canvas = Image.new("L", (120, 120), 20)
    canvas.paste(100, (10, 10, 60, 110))
    out = pixels([("grayscale", {}), ("crop", {"margin": 0.1, "stretch": False})], encode(canvas))
    assert out.shape == (120, 120)
    assert out[0, 0] == 20
    assert out[60, 60] == 100
    rows = np.flatnonzero(out.max(axis=1) > 50)
    assert rows[0] == 10 and rows[-1] == 109


def test_crop_ignores_sparse_noise_and_keeps_blank_images() -> None:
    rng = np.random.default_rng(0)
    noisy = rng.normal(10, 3, size=(300, 300)).clip(0, 255).astype(np.uint8)
    noisy[100:200, 130:170] = 200
    noisy[5, 5] = noisy[290, 280] = 255  # two hot pixels far from the item
    out = pixels([("grayscale", {}), ("crop", {})], encode(Image.fromarray(noisy)))
    assert 98 <= out.shape[0] <= 104
    blank = pixels([("grayscale", {}), ("crop", {})], encode(Image.new("L", (50, 40), 0)))
    assert blank.shape == (40, 50)


# --- resize -----------------------------------------------------------------------


def test_resize_to_the_model_size() -> None:
    chain = Chain.build(
        [("grayscale", {}), ("resize", {}), ("normalize", {})],
        model_input=ModelInput(size=(32, 24)),
    )
    out = chain.run_bytes(encode(Image.new("RGB", (1000, 700), (90, 90, 90))), path=Path("x"))
    assert out.shape == (32, 24)


@pytest.mark.parametrize("fmt", ["JPEG", "MPO"])
def test_big_jpeg_is_decoded_as_a_draft(fmt: str) -> None:
    photo = Image.new("RGB", (3000, 2000), (240, 240, 240))
    photo.paste((20, 40, 60), (1000, 500, 2000, 1500))
    extra = {"save_all": True, "append_images": [photo.resize((300, 200))]} if fmt == "MPO" else {}
    data = encode(photo, fmt, quality=85, **extra)
    resize = discover()["resize"].plugin()
    opened = Image.open(io.BytesIO(data))
    assert opened.format == fmt
    resize.prepare(opened, Context(Path("x.jpg"), {"resample": "lanczos", "fast": True}))
    opened.load()
    assert opened.mode == "L"
    assert 224 <= min(opened.size) < 500  # an eighth of the size, at least 8x the model's input
    fast = pixels([("resize", {})], data)
    slow = pixels([("grayscale", {}), ("resize", {"fast": False})], data)
    assert np.abs(fast.astype(int) - slow).max() <= 12


# --- normalize, and the whole default chain -----------------------------------------


def test_normalize_maps_pixels_to_the_model_range() -> None:
    image = Image.fromarray(np.array([[0, 255], [51, 102]], dtype=np.uint8))
    chain = Chain.build(
        [("normalize", {})], model_input=ModelInput(size=(2, 2), offset=0.0, scale=255.0)
    )
    out = chain.run_bytes(encode(image), path=Path("x"))
    np.testing.assert_allclose(out, [[0.0, 1.0], [0.2, 0.4]], atol=1e-6)


def _realistic_photos_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "realistic_photos", REPO / "benchmarks" / "realistic_photos.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["realistic_photos"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.real_data
def test_fashion_mnist_images_pass_through_unchanged(fashion_mnist_dir: Path) -> None:
    photos = _realistic_photos_module()
    images, _ = photos.load_test_set(fashion_mnist_dir)
    chain = Chain.build(photos.DEFAULT_CHAIN[:-1])
    unchanged = [
        np.array_equal(chain.pixels_bytes(encode(Image.fromarray(im)), path=Path("x.png")), im)
        for im in images[:200]
    ]
    # The few that change are items that do not span the frame (a short coat, a bag).
    assert sum(unchanged) >= 190


def test_crop_puts_an_odd_leftover_pixel_above_and_left() -> None:
    canvas = Image.new("L", (40, 40), 0)
    canvas.paste(200, (10, 5, 23, 35))  # 13 wide, 30 tall: 17 columns to share out
    out = pixels([("grayscale", {}), ("crop", {})], encode(canvas))
    columns = np.flatnonzero(out.max(axis=0))
    assert (columns[0], 29 - columns[-1]) == (9, 8)


@pytest.mark.real_data
def test_default_chain_turns_photos_back_into_fashion_mnist(fashion_mnist_dir: Path) -> None:
    """Photos generated from real test images come out close to the originals."""
    photos = _realistic_photos_module()
    images, _ = photos.load_test_set(fashion_mnist_dir)
    chain = Chain.build(photos.DEFAULT_CHAIN[:-1])
    rng = np.random.default_rng(7)
    differences = []
    for n, index in enumerate(rng.choice(len(images), size=24, replace=False)):
        kind = photos.BACKGROUNDS[n % len(photos.BACKGROUNDS)]
        photo = photos.realistic_photo(images[index], rng, background=kind)
        out = chain.pixels_bytes(photo.data, path=Path("photo.jpg"))
        differences.append(np.abs(out.astype(np.float32) - images[index]).mean())
    # Mean absolute difference per pixel, 0-255; an unframed or uninverted photo is ~100.
    assert np.median(differences) < 25
