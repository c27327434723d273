"""A small neural-network library in numpy: layers, optimizers, training, safe parameters files.

It imports numpy and the standard library only, so it can be lifted out and used alone.
The names below load their module on first use, so that importing one light
module (`nnet.classes`, `nnet.errors`) does not load numpy and every layer.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE: dict[str, str] = {
    "ARCHITECTURES": "nnet.architectures",
    "Adam": "nnet.optimizers",
    "Architecture": "nnet.architectures",
    "Augment": "nnet.augment",
    "BatchNorm": "nnet.batchnorm",
    "CLASS_NAMES": "nnet.classes",
    "Conv2D": "nnet.conv",
    "Dataset": "nnet.data",
    "Dense": "nnet.dense",
    "Dropout": "nnet.dropout",
    "EpochRecord": "nnet.history",
    "Evaluation": "nnet.network",
    "Flatten": "nnet.flatten",
    "History": "nnet.history",
    "InputFormat": "nnet.model",
    "Layer": "nnet.layer",
    "MaxPool2D": "nnet.pooling",
    "Network": "nnet.network",
    "Optimizer": "nnet.optimizers",
    "ReLU": "nnet.activations",
    "SGD": "nnet.optimizers",
    "Softmax": "nnet.activations",
    "SoftmaxCrossEntropy": "nnet.loss",
    "TrainedModel": "nnet.model",
    "TrainingMetadata": "nnet.model",
    "TrainingObserver": "nnet.history",
    "build_network": "nnet.architectures",
    "confusion_matrix": "nnet.metrics",
    "find_data": "nnet.data",
    "get_architecture": "nnet.architectures",
    "load_fashion_mnist": "nnet.data",
    "load_params": "nnet.params_file",
    "save_params": "nnet.params_file",
    "train_model": "nnet.training",
}

__all__ = [
    "ARCHITECTURES",
    "CLASS_NAMES",
    "SGD",
    "Adam",
    "Architecture",
    "Augment",
    "BatchNorm",
    "Conv2D",
    "Dataset",
    "Dense",
    "Dropout",
    "EpochRecord",
    "Evaluation",
    "Flatten",
    "History",
    "InputFormat",
    "Layer",
    "MaxPool2D",
    "Network",
    "Optimizer",
    "ReLU",
    "Softmax",
    "SoftmaxCrossEntropy",
    "TrainedModel",
    "TrainingMetadata",
    "TrainingObserver",
    "build_network",
    "confusion_matrix",
    "find_data",
    "get_architecture",
    "load_fashion_mnist",
    "load_params",
    "save_params",
    "train_model",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'nnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
