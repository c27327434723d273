"""Fashion-MNIST's ten classes, in label order.

A module of its own, with no numpy, so that code that only needs the names
(the history queries behind `fashiond history`) does not load the network.
"""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
