"""One BLAS thread for the daemon's predictions.

A batch of 64 through the MLP is a few small matrix products. OpenBLAS's
default thread pool (one thread per core) turns each into a handoff between
threads that, on 2 cores already busy decoding images, made one predict 16
times slower (18 ms against 1.1 ms) in our measurements. The environment
variable only works before numpy loads, which a command line that imports
numpy to parse its arguments is past, so this asks the loaded library itself.
Worker processes start with the variable set, which is enough for them.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(n: int = 1) -> bool:
    """Set the loaded OpenBLAS to `n` threads; and the variables, for child processes."""
    for name in _VARIABLES:
        os.environ[name] = str(n)
    for library in _loaded_openblas():
        try:
            lib = ctypes.CDLL(library)
        except OSError:
            continue
        for setter in _SETTERS:
            function = getattr(lib, setter, None)
            if function is not None:
                function(ctypes.c_int(n))
                log.debug("BLAS threads set to %d via %s in %s", n, setter, library)
                return True
    log.debug("no OpenBLAS found to limit; predictions use the BLAS defaults")
    return False


def _loaded_openblas() -> list[str]:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    return sorted(p for p in paths if p.startswith("/"))
