"""config.yaml, parsed into frozen dataclasses.

Every value is checked at load time, so a typo is reported before anything is
watched, as one message naming the file and the dotted key. The dataclass
defaults are the single source of defaults; the repository's config.yaml shows
them all (a test keeps the two in step).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from daemon.errors import ConfigError
from daemon.schedule import FORMS, is_valid_schedule

DEFAULT_CONFIG = Path("config.yaml")


def _check(predicate: Callable[[Any], bool], message: str) -> dict[str, Any]:
    """Field metadata for a value check beyond the type, e.g. a range."""
    return {"check": (predicate, message)}


def _positive() -> dict[str, Any]:
    return _check(lambda v: v > 0, "must be greater than 0")


def _fraction() -> dict[str, Any]:
    return _check(lambda v: 0.0 <= v <= 1.0, "must be between 0 and 1")


@dataclass(frozen=True)
class PluginEntry:
    """One step of the `preprocess:` chain: a plugin name and its options."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WatchConfig:
    observer: Literal["native", "polling"] = "native"
    recursive: bool = False
    polling_interval: float = field(default=1.0, metadata=_positive())
    rescan_interval: float = field(default=30.0, metadata=_positive())
    quiet_period_ms: int = field(default=300, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    extensions: list[str] | None = None


@dataclass(frozen=True)
class BatchConfig:
    max_size: int = field(default=64, metadata=_positive())
    max_delay_ms: int = field(default=50, metadata=_check(lambda v: v >= 0, "must be >= 0"))


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "mlp"
    epochs: int | None = field(default=None, metadata=_positive())
    batch_size: int | None = field(default=None, metadata=_positive())
    seed: int = 0


@dataclass(frozen=True)
class RetrainConfig:
    schedule: str | None = field(
        default=None, metadata=_check(is_valid_schedule, f"expected {FORMS}")
    )
    epochs: int = field(default=3, metadata=_positive())
    arch: str = "mlp"
    warm_start: bool = True
    include_corrections: bool = True
    min_gain: float = 0.0
    keep_versions: int = field(default=5, metadata=_positive())
    catch_up: bool = True


def _default_chain() -> list[PluginEntry]:
    return [
        PluginEntry("grayscale"),
        PluginEntry("invert", {"mode": "auto"}),
        PluginEntry("crop"),
        PluginEntry("resize"),
        PluginEntry("normalize"),
    ]


@dataclass(frozen=True)
class Config:
    """The whole configuration. Paths are absolute once loaded."""

    inbox: Path = Path("inbox")
    labeled_dir: Path = Path("labeled")
    review_dir: Path = Path("review")
    failed_dir: Path = Path("failed")
    database: str = "sqlite:///fashiond.db"
    model: Path = Path("models/current.pickle")
    data: Path | None = None
    plugins_dir: Path | None = None
    preprocess: list[PluginEntry] = field(default_factory=_default_chain)
    output: Literal["move", "copy", "leave"] = "move"
    low_confidence: float = field(default=0.5, metadata=_fraction())
    workers: int | None = field(default=None, metadata=_positive())
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    watch: WatchConfig = field(default_factory=WatchConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    source: Path | None = field(default=None, metadata={"internal": True})


def load_config(path: Path | None = None) -> Config:
    """Load `path`, or ./config.yaml when it exists, or the defaults.

    A path the user named must exist; the implicit ./config.yaml may be absent,
    so that commands such as `predict --model F` work in any folder.
    """
    explicit = path is not None
    path = Path(path) if explicit else DEFAULT_CONFIG
    if not path.exists():
        if explicit:
            raise ConfigError(
                f"config file {path} not found",
                hint="check the --config path, or copy config.yaml from the fashiond repository",
            )
        return _resolve_paths(Config(), base=Path.cwd())
    text = _read(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ConfigError(
            f"{path}:{line} is not valid YAML", hint="fix the syntax at that line"
        ) from None
    if data is None:
        data = {}
    config = _parse(Config, data, key="", source=path)
    config = dataclasses.replace(config, source=path.resolve())
    return _resolve_paths(config, base=path.resolve().parent)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def _resolve_paths(config: Config, *, base: Path) -> Config:
    """Relative paths in a config file mean relative to that file's folder."""

    def absolute(p: Path | None) -> Path | None:
        return None if p is None else (base / p.expanduser()).resolve()

    changes: dict[str, Any] = {
        f.name: absolute(getattr(config, f.name))
        for f in dataclasses.fields(config)
        if f.name != "source" and _is_path_type(f.type)
    }
    changes["database"] = _resolve_sqlite_url(config.database, base)
    changes["model"] = pointer_path(config.model, base=base)
    return dataclasses.replace(config, **changes)


def pointer_path(path: Path, *, base: Path) -> Path:
    """Absolute, without following a final symlink: `model` is a pointer retraining repoints."""
    full = base / path.expanduser()
    return full.parent.resolve() / full.name


def _is_path_type(annotation: object) -> bool:
    return annotation in ("Path", "Path | None")


def _resolve_sqlite_url(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite:///:memory:":
        return url
    rest = url[len(prefix) :]
    db_path, _, query = rest.partition("?")
    if db_path.startswith("/"):
        return url
    resolved = (base / db_path).resolve()
    return f"{prefix}{resolved}" + (f"?{query}" if query else "")


# --- the typed parser ----------------------------------------------------------------


def _parse(cls: type, data: Any, *, key: str, source: Path) -> Any:
    if not isinstance(data, dict):
        raise _bad(source, key or "(top level)", "expected a mapping of keys to values", data)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        dotted = _join(key, unknown[0])
        raise ConfigError(
            f"{source}: unknown key {dotted}",
            hint=f"known keys{' under ' + key if key else ''}: {', '.join(fields)}",
        )
    values = {}
    for name, value in data.items():
        dotted = _join(key, name)
        parsed = _convert(hints[name], value, key=dotted, source=source)
        check = fields[name].metadata.get("check")
        if check is not None and parsed is not None:
            _apply_check(check, parsed, key=dotted, source=source, value=value)
        values[name] = parsed
    return cls(**values)


def _apply_check(
    check: tuple[Any, str], parsed: Any, *, key: str, source: Path, value: Any
) -> None:
    """A check returns False, or raises ValueError saying why; that reason becomes the hint."""
    predicate, expected = check
    try:
        ok, reason = bool(predicate(parsed)), None
    except ValueError as exc:
        ok, reason = False, str(exc)
    if not ok:
        error = _bad(source, key, expected, value)
        error.hint = reason
        raise error


def _convert(annotation: Any, value: Any, *, key: str, source: Path) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, key=key, source=source)
    if origin is Literal:
        if value not in args:
            raise _bad(source, key, "expected one of " + ", ".join(map(str, args)), value)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise _bad(source, key, "expected a list", value)
        (item,) = args
        return [_convert(item, v, key=f"{key}[{i}]", source=source) for i, v in enumerate(value)]
    if annotation is PluginEntry:
        return _plugin_entry(value, key=key, source=source)
    if dataclasses.is_dataclass(annotation):
        return _parse(annotation, value, key=key, source=source)
    return _scalar(annotation, value, key=key, source=source)


def _scalar(annotation: Any, value: Any, *, key: str, source: Path) -> Any:
    if annotation is bool:
        if not isinstance(value, bool):
            raise _bad(source, key, "expected true or false", value)
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(source, key, "expected a whole number", value)
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(source, key, "expected a number", value)
        return float(value)
    if annotation in (str, Path):
        if not isinstance(value, str) or not value:
            raise _bad(source, key, "expected a non-empty string", value)
        return Path(value) if annotation is Path else value
    raise TypeError(f"config field {key} has an unsupported type {annotation!r}")


def _plugin_entry(value: Any, *, key: str, source: Path) -> PluginEntry:
    if isinstance(value, str) and value:
        return PluginEntry(value)
    if isinstance(value, dict) and len(value) == 1:
        ((name, options),) = value.items()
        if options is None:
            options = {}
        if isinstance(name, str) and isinstance(options, dict):
            return PluginEntry(name, {str(k): v for k, v in options.items()})
    raise _bad(
        source, key, "expected a plugin name, or a mapping of one name to its options", value
    )


def _join(key: str, name: object) -> str:
    return f"{key}.{name}" if key else str(name)


def _bad(source: Path, key: str, expected: str, value: Any) -> ConfigError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ConfigError(f"{source}: {key}: {expected}, got {shown}")
