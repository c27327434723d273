"""The loaded OpenBLAS's thread count, read and set while the process runs.

OpenBLAS reads OPENBLAS_NUM_THREADS once, when numpy loads; anything that
decides later (the daemon after parsing its command line, training when it
splits batches over cores itself) has to ask the library. numpy has no public
call for it, so this finds the OpenBLAS numpy loaded in /proc/self/maps and
calls its own setter through ctypes. Elsewhere (no /proc, another BLAS) the
functions report that they could not, and callers keep the BLAS defaults.
"""

from __future__ import annotations

import ctypes
from functools import cache
from pathlib import Path

_NAMES = ("scipy_openblas_{}_num_threads64_", "scipy_openblas_{}_num_threads")
_NAMES += ("openblas_{}_num_threads64_", "openblas_{}_num_threads")


@cache
def _functions() -> tuple[ctypes._CFuncPtr, ctypes._CFuncPtr] | None:
    """(get, set) of the loaded OpenBLAS, or None."""
    import numpy  # noqa: F401  (loads OpenBLAS, so that /proc/self/maps lists it)

    for library in _loaded_openblas():
        try:
            lib = ctypes.CDLL(library)
        except OSError:
            continue
        for name in _NAMES:
            getter = getattr(lib, name.format("get"), None)
            setter = getattr(lib, name.format("set"), None)
            if getter is not None and setter is not None:
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                return getter, setter
    return None


def _loaded_openblas() -> list[str]:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    return sorted(p for p in paths if p.startswith("/"))


def blas_threads() -> int | None:
    """OpenBLAS's thread count now, or None when it cannot be asked."""
    functions = _functions()
    return int(functions[0]()) if functions is not None else None


def set_blas_threads(n: int) -> bool:
    """Give OpenBLAS `n` threads from its next call on; False when it cannot be told."""
    functions = _functions()
    if functions is None:
        return False
    functions[1](max(1, int(n)))
    return True
