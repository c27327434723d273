"""Finding plugins: the `fashiond.plugins` entry points, then a folder of `.py` files.

Built-in plugins are registered through the same entry-point group as
third-party ones (see pyproject.toml), so there is one way in and the built-ins
get no special treatment. A name claimed twice is an error naming both
sources, because silently preferring one would make a config mean different
things on different machines.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

from plugins.api import Option, Preprocessor
from plugins.errors import PluginConfigError

ENTRY_POINT_GROUP = "fashiond.plugins"
BUILTIN_DISTRIBUTION = "fashiond"
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_OPTION_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str  # "built-in", "<distribution> <version>", or the .py file's path
    plugin: type[Preprocessor]


def discover(*, plugins_dir: Path | None = None) -> dict[str, PluginInfo]:
    """Every plugin available, by name, in a stable order (entry points, then files)."""
    found: dict[str, PluginInfo] = {}
    for info in _from_entry_points():
        _add(found, info)
    if plugins_dir is not None:
        for info in _from_folder(Path(plugins_dir)):
            _add(found, info)
    return found


def _add(found: dict[str, PluginInfo], info: PluginInfo) -> None:
    existing = found.get(info.name)
    if existing is None:
        found[info.name] = info
    elif existing.plugin is not info.plugin:
        raise PluginConfigError(
            f'Plugin "{info.name}" is defined twice: by {existing.source} and by {info.source}',
            hint="uninstall or rename one of them",
        )


# --- entry points ----------------------------------------------------------------


def _from_entry_points() -> list[PluginInfo]:
    points = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value))
    return [_load_entry_point(ep) for ep in points]


def _load_entry_point(ep: EntryPoint) -> PluginInfo:
    source = _entry_point_source(ep)
    try:
        plugin = ep.load()
    except Exception as exc:
        raise PluginConfigError(
            f'cannot load plugin "{ep.name}" from {source}: {type(exc).__name__}: {exc}',
            hint="reinstall that package, or uninstall it",
        ) from None
    _check_plugin(plugin, source=source)
    if plugin.name != ep.name:
        raise PluginConfigError(
            f'entry point "{ep.name}" of {source} loads a plugin named "{plugin.name}"',
            hint="make the entry-point name and the plugin's `name` the same",
        )
    return PluginInfo(plugin.name, source, plugin)


def _entry_point_source(ep: EntryPoint) -> str:
    dist = ep.dist
    if dist is None:
        return f"entry point {ep.value}"
    if dist.name == BUILTIN_DISTRIBUTION:
        return "built-in"
    return f"{dist.name} {dist.version}"


# --- a folder of .py files ----------------------------------------------------------


def _from_folder(folder: Path) -> list[PluginInfo]:
    if not folder.is_dir():
        raise PluginConfigError(
            f"plugins_dir {folder} is not a folder",
            hint="create it, or set plugins_dir: null in the config",
        )
    infos = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue  # shared code for the plugins, not a plugin itself
        module = _import_file(path)
        classes = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, Preprocessor)
            and obj is not Preprocessor
            and obj.__module__ == module.__name__
        ]
        if not classes:
            raise PluginConfigError(
                f"{path} defines no Preprocessor subclass",
                hint="define one, or start the file name with _ if it is shared code",
            )
        for cls in classes:
            _check_plugin(cls, source=str(path))
            infos.append(PluginInfo(cls.name, str(path), cls))
    return infos


def _import_file(path: Path) -> ModuleType:
    module_name = f"fashiond_plugins_dir.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginConfigError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered first so that dataclasses and pickling inside the file can find it.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise PluginConfigError(
            f"cannot load plugin file {path}: {type(exc).__name__}: {exc}",
            hint="fix the file, or move it out of plugins_dir",
        ) from None
    return module


# --- what a plugin class must look like ----------------------------------------------


def _check_plugin(plugin: object, *, source: str) -> None:
    if not (inspect.isclass(plugin) and issubclass(plugin, Preprocessor)):
        raise PluginConfigError(
            f"{source} registers {plugin!r}, which is not a Preprocessor subclass",
            hint="register a class that subclasses plugins.api.Preprocessor",
        )
    name = getattr(plugin, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise PluginConfigError(
            f"{plugin.__qualname__} from {source} has no valid `name` ({name!r})",
            hint="set name to lowercase letters, digits, - or _, starting with a letter",
        )
    if not isinstance(getattr(plugin, "description", None), str):
        raise PluginConfigError(
            f'plugin "{name}" from {source} has no `description`',
            hint="set description to one line saying what the step does",
        )
    if plugin.process is Preprocessor.process:
        raise PluginConfigError(
            f'plugin "{name}" from {source} does not implement process()',
            hint="define process(self, image, context) returning an image",
        )
    for option in plugin.options:
        _check_option(option, plugin_name=name, source=source)


def _check_option(option: object, *, plugin_name: str, source: str) -> None:
    if not isinstance(option, Option) or option.type not in _OPTION_TYPES:
        raise PluginConfigError(
            f'plugin "{plugin_name}" from {source} declares a bad option {option!r}',
            hint="declare options as Option(name, type, default, help) with type bool, int, "
            "float or str",
        )
