"""`fashiond plugins`: every preprocessing plugin found, and what the config's chain uses."""

from __future__ import annotations

import argparse

from daemon.commands.options import add_config_option, config_from
from plugins.api import Option
from plugins.registry import discover


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    found = discover(plugins_dir=config.plugins_dir)
    in_chain = {entry.name for entry in config.preprocess}
    for info in found.values():
        used = "  [in the chain]" if info.name in in_chain else ""
        print(f"{info.name}  ({info.source}){used}")
        print(f"    {info.plugin.description}")
        for option in info.plugin.options:
            print(f"    {_describe(option)}")
    chain = ", ".join(_step(entry.name, entry.options) for entry in config.preprocess)
    print(f"\nchain: {chain}")
    missing = sorted(in_chain - found.keys())
    if missing:
        print(f"not found: {', '.join(missing)}")
    return 0


def _describe(option: Option) -> str:
    choices = f" ({' | '.join(map(str, option.choices))})" if option.choices else ""
    default = _shown(option.default)
    return f"{option.name}: {option.type.__name__} = {default}{choices}  {option.help}"


def _step(name: str, options: dict[str, object]) -> str:
    if not options:
        return name
    return f"{name}({', '.join(f'{k}={_shown(v)}' for k, v in options.items())})"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
