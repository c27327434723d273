"""Reading one inbox file safely and turning it into network input.

This is the part of the work that runs in the worker processes: open without
following links, check it is a regular file, hash the bytes and run the plugin
chain. Every failure of one file becomes an `Examined` with an error, never an
exception, so one bad image cannot stop a batch.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugins.chain import Chain
from plugins.errors import StepError

MAX_FILE_BYTES = 256 * 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Examined:
    path: Path
    sha256: str = ""
    pixels: np.ndarray | None = None  # the network input, when the chain succeeded
    error: str | None = None
    failed_plugin: str | None = None
    vanished: bool = False  # gone before it could be read: nothing to record
    seconds: float = 0.0


class _RefusedError(Exception):
    pass


def examine(path: Path, chain: Chain) -> Examined:
    started = time.perf_counter()
    try:
        data = read_regular_file(path)
    except FileNotFoundError:
        return Examined(path, vanished=True)
    except _RefusedError as exc:
        return Examined(path, error=str(exc), seconds=time.perf_counter() - started)
    except OSError as exc:
        return Examined(path, error=f"cannot read: {exc.strerror or exc}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        pixels = chain.run_bytes(data, path=path)
    except StepError as exc:
        return _failed(path, digest, exc.reason, exc.plugin, started)
    except Exception as exc:  # a plugin bug must fail this file, not the daemon
        return _failed(path, digest, f"{type(exc).__name__}: {exc}", None, started)
    return Examined(path, sha256=digest, pixels=pixels, seconds=time.perf_counter() - started)


def _failed(path: Path, digest: str, error: str, plugin: str | None, started: float) -> Examined:
    return Examined(
        path,
        sha256=digest,
        error=error,
        failed_plugin=plugin,
        seconds=time.perf_counter() - started,
    )


def read_regular_file(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file reached without any symlink.

    O_NOFOLLOW refuses a link as the last component; the parent folder is
    checked to be its own real path, so a linked folder is not read through
    either. O_NONBLOCK keeps a FIFO from hanging the worker.
    """
    parent = str(Path(path).parent)
    if os.path.realpath(parent) != parent:
        raise _RefusedError(
            "its folder is reached through a symbolic link, which fashiond never follows"
        )
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _RefusedError("is a symbolic link; fashiond does not follow links") from None
        raise
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise _RefusedError("is a directory, not an image file")
        if not stat.S_ISREG(st.st_mode):
            raise _RefusedError("is not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise _RefusedError(
                f"is {st.st_size} bytes, larger than the {MAX_FILE_BYTES} bytes accepted"
            )
        return _read_all(fd, st.st_size)
    finally:
        os.close(fd)


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, max(size, 65536))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        if sum(map(len, chunks)) > MAX_FILE_BYTES:
            raise _RefusedError("grew past the size accepted while being read")
