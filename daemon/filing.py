"""Where a processed file goes, and getting it there without ever losing it.

The daemon picks a free target name before it commits a row (the row records
it), then moves the file. A move never overwrites: a name collision gets a
numeric suffix (`shirt.png`, `shirt-1.png`, ...). Folder and file names are
sanitised, so the label "T-shirt/top" is one folder `T-shirt_top` and a file
name with a newline in it stays one line in a listing.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

OutputMode = Literal["move", "copy", "leave"]

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
MAX_NAME_BYTES = 200


def safe_name(name: str) -> str:
    """One path component that is safe on any common filesystem."""
    cleaned = _UNSAFE.sub("_", name).strip().lstrip(".") or "_"
    while len(cleaned.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = (stem[:-1] + dot + suffix) if dot and stem else cleaned[:-1]
    return cleaned


def error_note_path(target: Path) -> Path:
    return target.with_name(target.name + ".error.txt")


@dataclass
class Filing:
    """Chooses free target names for one batch, remembering the names it handed out."""

    labeled_dir: Path
    review_dir: Path
    failed_dir: Path
    mode: OutputMode = "move"
    _taken: set[str] = field(default_factory=set)

    def target(self, *, source: Path, status: str, label: str | None) -> Path:
        """The path a file will have once placed (its inbox path in `leave` mode)."""
        if self.mode == "leave" and status != "failed":
            return source
        if status == "failed":
            return self._free(self.failed_dir, safe_name(source.name), with_note=True)
        base = self.review_dir if status == "review" else self.labeled_dir
        return self._free(base / safe_name(label or "unknown"), safe_name(source.name))

    def next_free(self, *, source: Path, taken: Path, is_failed: bool) -> Path:
        """Another free name beside `taken`, which turned out to be occupied at the move."""
        return self._free(taken.parent, safe_name(source.name), with_note=is_failed)

    def release(self) -> None:
        """Forget the names handed out, once their files are placed (or given up)."""
        self._taken.clear()

    def _free(self, folder: Path, name: str, *, with_note: bool = False) -> Path:
        # Strings, not Paths, until the end: hashing a fresh Path for the `_taken`
        # lookup cost more than the lexists call (py-spy, bulk ingest).
        prefix = f"{folder}{os.sep}"
        stem, suffix = _split(name)
        candidate, n = prefix + name, 0
        while (
            candidate in self._taken
            or os.path.lexists(candidate)
            or (with_note and os.path.lexists(candidate + ".error.txt"))
        ):
            n += 1
            candidate = f"{prefix}{stem}-{n}{suffix}"
        self._taken.add(candidate)
        return Path(candidate)


def _split(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.rpartition(".")
    return (stem, dot + suffix) if dot and stem else (name, "")


def place(source: Path, target: Path, *, mode: OutputMode, is_failed: bool = False) -> None:
    """Move (or copy) `source` to `target`, which must not exist yet.

    Failed files always move, whatever the mode: leaving them would have the
    daemon retry them forever. A symlink is moved as the link itself.
    """
    if target == source:
        return
    if mode == "copy" and not is_failed:
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_new(source, target)
        return
    # Link, then unlink: link() fails with EEXIST instead of replacing a file a user (or
    # `fashiond correct`) put at the chosen name since `Filing.target` found it free.
    # A crash between the two leaves the file at both names (one inode); the restart's
    # reconciliation drops the inbox name.
    try:
        _link_into_place(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another filesystem: copy to a temporary name, publish it, then drop the source.
        # A crash in between leaves both; the restart's reconciliation removes the source.
        _copy_new(source, target)
        source.unlink()


# link() refusals that mean "no hard links here" (a directory, a filesystem without them):
# those fall back to a checked rename.
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}
)


def _link_into_place(source: Path, target: Path) -> None:
    try:
        _link(source, target)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise  # EEXIST, EXDEV (handled by the caller), ENOENT
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "target exists", str(target)) from None
        _rename(source, target)
        return
    source.unlink()


def _link(source: Path, target: Path) -> None:
    """A hard link (of a symlink itself, never its target), making the folder when missing."""
    try:
        os.link(source, target, follow_symlinks=False)
    except FileNotFoundError:
        if target.parent.is_dir() or not os.path.lexists(source):
            raise
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target, follow_symlinks=False)


def _rename(source: Path, target: Path) -> None:
    """A rename that makes the target folder when it is missing (first file of a label)."""
    try:
        source.rename(target)
    except FileNotFoundError:
        if target.parent.is_dir() or not os.path.lexists(source):
            raise
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)


def _copy_new(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.fashiond-tmp")
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, tmp, symlinks=True)
    else:
        shutil.copy2(source, tmp, follow_symlinks=False)
    if os.path.lexists(target):
        _remove(tmp)
        raise FileExistsError(errno.EEXIST, "target exists", str(target))
    tmp.rename(target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def write_error_note(target: Path, *, filename: str, error: str, plugin: str | None) -> None:
    """`<name>.error.txt` beside a failed file, saying why in words a user can act on."""
    lines = [f"file: {filename!r}", f"error: {error}"]
    if plugin:
        lines.append(f"failed in plugin: {plugin}")
    note = error_note_path(target)
    note.parent.mkdir(parents=True, exist_ok=True)
    tmp = note.with_name(f".{note.name}.fashiond-tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(note)
