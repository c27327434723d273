"""Fixtures shared by the whole suite.

The suite fails on leaked threads, as watchdog's does: a test that leaves an
observer or worker running hides shutdown bugs and slows every later test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def fashion_mnist_dir() -> Path:
    """The real Fashion-MNIST; `make test` installs it, so its absence is a failure."""
    if not any(DEBIAN_DATA.glob("train-images-idx3-ubyte*")):
        pytest.fail(
            f"Fashion-MNIST not found in {DEBIAN_DATA}; run 'make data' "
            "(or apt-get install dataset-fashion-mnist)"
        )
    return DEBIAN_DATA


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
