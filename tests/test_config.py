from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from daemon.config import Config, PluginEntry, load_config
from daemon.errors import ConfigError

from .conftest import REPO


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_repository_config_shows_every_key_with_its_default(tmp_path: Path) -> None:
    shipped = load_config(REPO / "config.yaml")
    defaults = load_config(write(tmp_path, ""))
    for f in dataclasses.fields(Config):
        if f.name == "source":
            continue
        ours, theirs = getattr(shipped, f.name), getattr(defaults, f.name)
        if isinstance(ours, Path):
            ours, theirs = ours.relative_to(REPO), theirs.relative_to(tmp_path)
        elif f.name == "database":
            ours, theirs = ours.replace(str(REPO), ""), theirs.replace(str(tmp_path), "")
        assert ours == theirs, f.name
    raw = yaml.safe_load((REPO / "config.yaml").read_text())
    assert set(raw) == {f.name for f in dataclasses.fields(Config)} - {"source"}


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "inbox: in\ndatabase: sqlite:///db/x.db\n"))
    assert config.inbox == tmp_path / "in"
    assert config.database == f"sqlite:///{tmp_path}/db/x.db"


def test_absolute_database_and_non_sqlite_urls_are_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "database: postgresql://u@h/db\n"))
    assert config.database == "postgresql://u@h/db"


def test_plugin_entries_accept_names_and_mappings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "preprocess:\n  - grayscale\n  - invert: {mode: never}\n"))
    assert config.preprocess == [PluginEntry("grayscale"), PluginEntry("invert", {"mode": "never"})]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("batch:\n  max_size: many\n", "batch.max_size: expected a whole number"),
        ("batch:\n  max_size: 0\n", "batch.max_size: must be greater than 0"),
        ("watch:\n  observer: inotify\n", "watch.observer: expected one of native, polling"),
        ("watch:\n  colour: red\n", "unknown key watch.colour"),
        ("low_confidence: 1.5\n", "low_confidence: must be between 0 and 1"),
        ("retrain:\n  warm_start: yes please\n", "retrain.warm_start: expected true or false"),
        ("preprocess:\n  - {a: 1, b: 2}\n", "preprocess[0]: expected a plugin name"),
        ("- just\n- a list\n", "(top level): expected a mapping"),
        ("inbox: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_values_name_the_file_and_dotted_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)
    assert str(path) in str(error.value)


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_without_a_config_file_the_defaults_apply_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.inbox == tmp_path / "inbox"
    assert config.source is None


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("lowconfidence: 0.3\n", "did you mean low_confidence?"),
        ("batch:\n  max_sise: 3\n", "did you mean batch.max_size?"),
        ("colour: red\n", "known keys: inbox, "),
    ],
)
def test_an_unknown_key_suggests_the_nearest_one(tmp_path: Path, text: str, hint: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert error.value.hint is not None and error.value.hint.startswith(hint)
