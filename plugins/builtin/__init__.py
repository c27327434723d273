"""The built-in plugins, one per file, registered as entry points in pyproject.toml.

Together, in the default order (grayscale, invert, crop, resize, normalize), they
turn a photo of one item on a plain background into what Fashion-MNIST looks
like: 28x28 grayscale, the item light on black, filling the frame on its long side.
"""
