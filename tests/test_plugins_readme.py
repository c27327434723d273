"""The README's plugin section documents every plugin-facing name, and its example runs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import plugins.api
from plugins.chain import Chain
from plugins.registry import discover

README = Path(__file__).resolve().parent.parent / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_every_name_in_the_plugin_api_is_documented() -> None:
    text = section("Writing a plugin")
    for name in plugins.api.__all__:
        assert f"`{name}" in text, f"README 'Writing a plugin' does not document {name}"
    for attribute in ("name", "description", "options", "process", "prepare"):
        assert f"`{attribute}" in text
    for field in ("path", "options", "model_input", "size", "offset", "scale"):
        assert f"`{field}`" in text


def test_every_builtin_and_its_options_are_documented() -> None:
    text = section("Writing a plugin")
    for info in discover().values():
        if info.source != "built-in":
            continue
        row = next(line for line in text.splitlines() if line.startswith(f"| `{info.name}` |"))
        for option in info.plugin.options:
            assert f"`{option.name}:" in row, f"{info.name}.{option.name} missing from the table"


def test_the_complete_example_plugin_works(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", section("Writing a plugin"), flags=re.S)
    folder = tmp_path / "plugins.d"
    folder.mkdir()
    (folder / "sharpen.py").write_text(code)
    (config,) = re.findall(r"```yaml\n(.*?)```", section("Writing a plugin"), flags=re.S)
    assert "sharpen: {radius: 1.5}" in config
    chain = Chain.build(
        [
            ("grayscale", {}),
            ("invert", {"mode": "auto"}),
            ("crop", {}),
            ("sharpen", {"radius": 1.5}),
            ("resize", {}),
            ("normalize", {}),
        ],
        plugins_dir=folder,
    )
    photo = Image.new("RGB", (200, 160), (240, 240, 240))
    photo.paste((30, 30, 30), (60, 20, 140, 150))
    buf = io.BytesIO()
    photo.save(buf, "JPEG")
    out = chain.run_bytes(buf.getvalue(), path=Path("photo.jpg"))
    assert out.shape == (28, 28)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("command", ["predict", "plugins"])
def test_command_sections_are_filled_in(command: str) -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"### fashiond {command}\n")
    body = text[start : text.index("\n### ", start + 1)]
    assert "<!--" not in body
    assert f"fashiond {command}" in body.split("\n", 1)[1]
