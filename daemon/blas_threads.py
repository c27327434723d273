"""One BLAS thread for the daemon's predictions.

A batch of 64 through the MLP is a few small matrix products. OpenBLAS's
default thread pool (one thread per core) turns each into a handoff between
threads that, on 2 cores already busy decoding images, made one predict 16
times slower (18 ms against 1.1 ms) in our measurements. The environment
variable only works before numpy loads, which a command line that imports
numpy to parse its arguments is past, so this asks the loaded library itself.
Worker processes and a retrain start with the variables set, which is enough
for them, and which also keeps nnet from splitting batches over the cores.
"""

from __future__ import annotations

import logging
import os

from nnet.blas import set_blas_threads

log = logging.getLogger(__name__)

_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(n: int = 1) -> bool:
    """Set the loaded OpenBLAS to `n` threads; and the variables, for child processes."""
    for name in _VARIABLES:
        os.environ[name] = str(n)
    if set_blas_threads(n):
        log.debug("BLAS threads set to %d", n)
        return True
    log.debug("no OpenBLAS found to limit; predictions use the BLAS defaults")
    return False
