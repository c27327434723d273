"""A batch's heavy work split by images over the cores, with BLAS on one thread each.

numpy's elementwise work (pooling, im2col copies, BatchNorm, ReLU) runs on
one thread, and OpenBLAS threads only the matrix products; worse, its idle
threads spin for ~0.1 s after every product, holding the second core exactly
while the elementwise work could have used it. So on 2 cores a CNN training
step left most of the second core to spinning (62.6 ms a step against
78.9 ms on one thread). Inside `split_batches()` OpenBLAS runs on one thread
and each layer hands contiguous groups of images to `over_parts`, one group
per core: products and elementwise work alike run side by side, since numpy
releases the GIL inside both.

Each part writes into arrays the caller allocated, or returns partial sums
that the caller adds in a fixed order, so a run is repeatable for a given
number of cores. Outside the block (the daemon's predictions, a layer used
alone) `over_parts` is one plain call on the whole batch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

import numpy as np

from nnet.blas import blas_threads, set_blas_threads

T = TypeVar("T")

# Below this many array elements a part is worth less than handing it over costs.
MIN_SPLIT_SIZE = 1 << 16


class _Local(threading.local):
    pool: ThreadPoolExecutor | None = None
    parts: int = 1


_local = _Local()
_blas_lock = threading.Lock()
_blas_users = 0
_blas_before: int | None = None


def cores_allowed() -> int:
    """The cores this process may use: the thread variables a user (or the daemon,
    for a retrain beside it) set to ask for fewer, else every core it may run on."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextmanager
def split_batches(cores: int | None = None) -> Iterator[int]:
    """Split `over_parts` work over `cores` threads (default: `cores_allowed()`) until the
    block ends; yields the number of parts. Re-entrant; the threads end with the block."""
    cores = cores_allowed() if cores is None else cores
    if _local.pool is not None or cores < 2 or not _one_blas_thread():
        yield _local.parts
        return
    _local.pool = ThreadPoolExecutor(cores - 1, thread_name_prefix="nnet-batch-part")
    _local.parts = cores
    try:
        yield cores
    finally:
        pool, _local.pool, _local.parts = _local.pool, None, 1
        pool.shutdown(wait=True)
        _release_blas()


def over_parts(work: Callable[[slice], T], n: int, *, size: int) -> list[T]:
    """`work(images)` for contiguous parts of range(n), in parallel inside `split_batches`;
    the results in order. `size`: the elements the work touches, to skip small batches."""
    pool, parts = _local.pool, min(_local.parts, n)
    if pool is None or parts < 2 or size < MIN_SPLIT_SIZE:
        return [work(slice(0, n))]
    bounds = [n * i // parts for i in range(parts + 1)]
    slices = [slice(bounds[i], bounds[i + 1]) for i in range(parts)]
    futures = [pool.submit(work, s) for s in slices[1:]]
    try:
        first = work(slices[0])
    finally:  # the other parts write into the caller's arrays: never leave them running
        wait(futures)
    return [first, *(f.result() for f in futures)]


def total(parts: list[np.ndarray]) -> np.ndarray:
    """Partial sums from `over_parts`, added in their order, so that a run repeats exactly."""
    result = parts[0]
    for part in parts[1:]:
        result = result + part
    return result


def _one_blas_thread() -> bool:
    global _blas_users, _blas_before
    with _blas_lock:
        if _blas_users == 0:
            before = blas_threads()
            if before is None or not set_blas_threads(1):
                return False  # another BLAS: splitting would only oversubscribe its threads
            _blas_before = before
        _blas_users += 1
        return True


def _release_blas() -> None:
    global _blas_users
    with _blas_lock:
        _blas_users -= 1
        if _blas_users == 0 and _blas_before is not None:
            set_blas_threads(_blas_before)
