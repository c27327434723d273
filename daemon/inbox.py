"""The inbox folder: which names in it are images to take in, and finding them.

Hidden and temporary names (`.x`, `x.tmp`, `x.part`, `~x`) are never touched,
so an editor's swap file or a download in progress is left alone. Symbolic
links are never followed: a scan does not descend into linked folders, and a
link with an image name is taken in as a bad input (see `daemon.examine`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image

TEMPORARY_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".swp")


@cache
def pillow_extensions() -> frozenset[str]:
    """Every extension Pillow can open (not the save-only ones), lower case with the dot."""
    Image.init()
    return frozenset(
        ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN
    )


@dataclass(frozen=True)
class Inbox:
    root: Path  # absolute, symlinks resolved
    recursive: bool = False
    extensions: frozenset[str] | None = None  # None = pillow_extensions()
    excluded: tuple[Path, ...] = ()  # output folders that happen to sit inside the inbox

    @classmethod
    def create(
        cls,
        root: Path,
        *,
        recursive: bool = False,
        extensions: Sequence[str] | None = None,
        excluded: Sequence[Path] = (),
    ) -> Inbox:
        exts = pillow_extensions()  # now, not on the first event: Image.init() imports plugins
        if extensions is not None:
            exts = frozenset(
                e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions
            )
        return cls(
            root=Path(os.path.realpath(root)),
            recursive=recursive,
            extensions=exts,
            excluded=tuple(Path(os.path.realpath(p)) for p in excluded),
        )

    def accepts(self, path: Path) -> bool:
        """Whether `path` names a file the daemon should take in (by its name and place only)."""
        # String operations: this runs for every watchdog event, and pathlib's are slower.
        folder, name = os.path.split(path)
        lower = name.lower()
        if name.startswith((".", "~")) or lower.endswith(TEMPORARY_SUFFIXES):
            return False
        dot = lower.rfind(".")
        if dot <= 0 or lower[dot:] not in (self.extensions or pillow_extensions()):
            return False
        return folder == str(self.root) or self.contains(path)

    def contains(self, path: Path) -> bool:
        """Inside the inbox (directly, unless recursive), not in an excluded or hidden folder."""
        if path.parent == self.root:  # the common case, without relative_to's cost
            return True
        if not self.recursive:
            return False
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return False
        parts = relative.parts
        if not parts or (len(parts) > 1 and not self.recursive):
            return False
        if any(p.startswith((".", "~")) for p in parts[:-1]):
            return False
        return not any(path.is_relative_to(ex) for ex in self.excluded)

    def relative_name(self, path: Path, *, as_str: str | None = None) -> str:
        """The name a file arrived with, as recorded: relative to the inbox.

        `as_str`: `str(path)` when the caller has it (strings: this runs per file)."""
        folder, name = os.path.split(as_str if as_str is not None else str(path))
        if folder == str(self.root):
            return name
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return path.name

    def scan(self) -> Iterator[Path]:
        """Every acceptable name in the inbox now, not following links."""
        yield from self._scan(self.root)

    def scan_folder(self, folder: Path) -> Iterator[Path]:
        """A folder that appeared inside a recursive inbox (moved in whole, say)."""
        if self.recursive and self.contains(folder / "x"):
            yield from self._scan(folder)

    def _scan(self, folder: Path) -> Iterator[Path]:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            path = Path(entry.path)
            if self.recursive and entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith((".", "~")) and not any(
                    path == ex or path.is_relative_to(ex) for ex in self.excluded
                ):
                    yield from self._scan(path)
            elif self.accepts(path):
                yield path
