"""Bad input never stops the daemon and never loses the file.

One daemon runs for the whole module; each case is dropped alone and must end
either labeled, or in failed/ with `<name>.error.txt` beside it and a `failed`
row saying why, after which the daemon still labels a good file.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from daemon.commands.run import Daemon
from daemon.config import Config
from tests.daemon_support import config_for, make_model, png, rows, running, wait_for_rows


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png() -> bytes:
    """A valid-looking PNG header claiming 20000x20000 pixels, in a few dozen bytes."""
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 100)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def bad_crc_png() -> bytes:
    data = bytearray(png(1))
    data[29] ^= 0xFF  # the IHDR CRC
    return bytes(data)


def sixteen_bit_png() -> bytes:
    pixels = (np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) * 80).astype(np.uint16)
    return _encode(Image.fromarray(pixels))  # uint16: mode I;16, saved as a 16-bit PNG


def animated_gif() -> bytes:
    frames = [Image.fromarray(np.full((28, 28), v, dtype=np.uint8), "L") for v in (0, 128, 255)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)


def _rgb() -> Image.Image:
    return Image.open(io.BytesIO(png(2))).convert("RGB")


CASES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "zero-byte": ("empty.png", lambda: b""),
    "truncated": ("truncated.png", lambda: png(3)[:60]),
    "bad-crc": ("crc.png", bad_crc_png),
    "text-named-png": ("text.png", lambda: b"this is not an image\n"),
    "decompression-bomb": ("bomb.png", bomb_png),
    "16-bit": ("deep.png", sixteen_bit_png),
    "palette": ("palette.png", lambda: _encode(_rgb().convert("P"))),
    "rgba": ("alpha.png", lambda: _encode(_rgb().convert("RGBA"))),
    "cmyk": ("cmyk.jpg", lambda: _encode(_rgb().convert("CMYK"), "JPEG")),
    "animated": ("animated.gif", animated_gif),
    "space-in-name": ("my shirt.png", lambda: png(4)),
    "unicode-name": ("chemise-été-👕.png", lambda: png(5)),
    "newline-in-name": ("two\nlines.png", lambda: png(6)),
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("bad-inputs")
    make_model(root / "models" / "current.pickle")
    with running(config_for(root)) as daemon:
        yield daemon


def _drop_and_wait(config: Config, name: str, data: bytes | None = None) -> dict[str, Any]:
    before = len(rows(config))
    if data is not None:
        (config.inbox / name).write_bytes(data)
    found = wait_for_rows(config, before + 1)
    (row,) = found[before:]
    return dict(row)


def _assert_one_place(config: Config, row: dict[str, Any]) -> None:
    where = Path(row["path"])
    assert where.exists() or where.is_symlink()
    assert not (config.inbox / row["filename"]).exists()
    if row["status"] == "failed":
        assert where.parent == config.failed_dir
        note = where.with_name(where.name + ".error.txt")
        assert row["error"] and row["error"] in note.read_text(encoding="utf-8")
    else:
        assert row["status"] == "labeled"
        assert where.parent.parent == config.labeled_dir


def _still_works(config: Config, seed: int) -> None:
    good = _drop_and_wait(config, f"good-{seed}.png", png(100 + seed))
    assert good["status"] == "labeled"


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_labeled_or_failed_and_the_daemon_goes_on(daemon: Daemon, case: str) -> None:
    config = daemon.config
    name, make = CASES[case]
    row = _drop_and_wait(config, name, make())
    assert row["filename"] == name
    _assert_one_place(config, row)
    if case in ("zero-byte", "truncated", "text-named-png", "decompression-bomb"):
        assert row["status"] == "failed"
        assert row["failed_plugin"]
    if case in ("16-bit", "palette", "rgba", "cmyk", "animated", "space-in-name", "unicode-name"):
        assert row["status"] == "labeled"
    if case == "newline-in-name":
        assert "\n" not in Path(row["path"]).name
    _still_works(config, list(CASES).index(case))


def test_a_directory_named_like_an_image_goes_to_failed(daemon: Daemon, tmp_path: Path) -> None:
    config = daemon.config
    folder = tmp_path / "folder.png"
    folder.mkdir()
    (folder / "inside.txt").write_text("kept")
    folder.rename(config.inbox / "folder.png")
    row = _drop_and_wait(config, "folder.png")
    assert row["status"] == "failed"
    assert "directory" in row["error"]
    moved = Path(row["path"])
    assert moved.is_dir() and (moved / "inside.txt").read_text() == "kept"
    _assert_one_place(config, row)
    _still_works(config, 50)


def test_a_symlink_out_of_the_inbox_is_not_followed(daemon: Daemon, tmp_path: Path) -> None:
    config = daemon.config
    secret = tmp_path / "outside.png"
    secret.write_bytes(png(9))
    (config.inbox / "link.png").symlink_to(secret)
    row = _drop_and_wait(config, "link.png")
    assert row["status"] == "failed"
    assert "symbolic link" in row["error"]
    assert row["sha256"] == ""  # the target was never read
    moved = Path(row["path"])
    assert moved.is_symlink() and moved.readlink() == secret
    assert secret.read_bytes() == png(9)
    _assert_one_place(config, row)
    _still_works(config, 51)
