"""A small neural-network library in numpy: layers, optimizers, training, safe parameters files.

It imports numpy and the standard library only, so it can be lifted out and used alone.
"""

from __future__ import annotations

from nnet.activations import ReLU, Softmax
from nnet.architectures import ARCHITECTURES, Architecture, build_network, get_architecture
from nnet.augment import Augment
from nnet.batchnorm import BatchNorm
from nnet.conv import Conv2D
from nnet.data import Dataset, find_data, load_fashion_mnist
from nnet.dense import Dense
from nnet.dropout import Dropout
from nnet.flatten import Flatten
from nnet.history import EpochRecord, History, TrainingObserver
from nnet.layer import Layer
from nnet.loss import SoftmaxCrossEntropy
from nnet.metrics import confusion_matrix
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.network import Evaluation, Network
from nnet.optimizers import SGD, Adam, Optimizer
from nnet.params_file import load_params, save_params
from nnet.pooling import MaxPool2D
from nnet.training import train_model

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
