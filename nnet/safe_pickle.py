"""A pickle reader that can build numpy arrays and plain containers, and nothing else.

Pickle can call any importable function while loading, so a crafted parameters
file could run code. This unpickler resolves only an allow-list of names, each to
the numpy callable that rebuilds an array, and refuses everything else before it
is imported, let alone called. Object arrays are refused too, since rebuilding
one could hand back arbitrary objects.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from nnet.errors import UnsafePickleError


def _safe_dtype(*args: Any, **kwargs: Any) -> np.dtype:
    dtype = np.dtype(*args, **kwargs)
    if dtype.hasobject:
        raise UnsafePickleError("refused to load an array of Python objects")
    return dtype


# The callables numpy's own pickles name, found through numpy rather than by
# importing private modules, whose names moved between numpy 1 and 2.
_reconstruct = np.zeros(1).__reduce__()[0]
_frombuffer = np.zeros(1).__reduce_ex__(5)[0]
_scalar = np.float32(0).__reduce__()[0]

_ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_module}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED[(f"{_module}.multiarray", "scalar")] = _scalar
    _ALLOWED[(f"{_module}.numeric", "_frombuffer")] = _frombuffer
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = _safe_dtype
_ALLOWED[("collections", "OrderedDict")] = dict


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise UnsafePickleError(
                f"refused to load {module}.{name}: parameters files may hold only arrays "
                "and plain containers"
            )
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused to load a persistent reference")


def safe_loads(data: bytes) -> Any:
    """Unpickle `data`, allowing only numpy arrays, numbers, strings and containers.

    Raises UnsafePickleError for anything else; other pickle errors propagate.
    """
    return _RestrictedUnpickler(io.BytesIO(data)).load()
