"""How fast nnet's CNN trains and predicts, and how that compares with PyTorch on the CPU.

Training: one epoch over a fixed subset of the Fashion-MNIST training images
(10,000 by default; a full epoch is 6 times that) of the `cnn` architecture,
batch 128, Adam, through Network.fit, without augmentation so that both sides
do the same arithmetic (the augmentation's own cost is timed separately).
Inference: Network.predict on the 10,000 test images. The bar: >= 5,000 images/s.

When PyTorch is importable here, or in the interpreter given by --torch-python
(or $FASHIOND_TORCH_PYTHON), the same architecture is timed in PyTorch with the
same number of threads, and the ratio nnet / PyTorch is printed (the bar: <= 1.5).
PyTorch lives in a throwaway virtual environment only (`make bench-torch` makes
one in /tmp); it is never a dependency of fashiond.

Each measurement is repeated --repeat times and the fastest counts: the machine
may be shared. nnet's BLAS thread count is fixed when numpy loads, so set
OPENBLAS_NUM_THREADS (default: every core) before starting to change it.

    python benchmarks/cnn_speed.py [--images 10000] [--repeat 2] [--torch-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nnet.architectures import build_network, get_architecture  # noqa: E402
from nnet.batch_split import cores_allowed  # noqa: E402
from nnet.data import load_fashion_mnist  # noqa: E402
from nnet.model import InputFormat  # noqa: E402
from nnet.network import PREDICT_BATCH  # noqa: E402

BATCH = 128
PREDICT_IMAGES = 10_000
SEED = 0
TRAIN_BAR = 1.5
INFERENCE_BAR = 5_000.0


@dataclass(frozen=True)
class Timings:
    epoch_seconds: float  # one epoch over the subset, wall clock
    images_per_second: float  # batched inference, wall clock
    # The same epoch in process CPU time: on a shared machine and one thread it
    # is the steadier figure (with more threads it adds them up).
    epoch_cpu_seconds: float
    images_per_cpu_second: float


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _timings(epoch: Stopwatch, predict: Stopwatch, images: int) -> Timings:
    return Timings(epoch.wall, images / predict.wall, epoch.cpu, images / predict.cpu)


def time_nnet(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, repeat: int
) -> tuple[Timings, float]:
    """(nnet's timings, seconds the recipe's augmentation adds to one epoch)."""
    arch = get_architecture("cnn")
    epochs, inference = [], []
    for _ in range(repeat):
        network = build_network(arch.spec, seed=SEED)
        with Stopwatch() as epoch:
            network.fit(train_x, train_y, 1, BATCH, optimizer=arch.optimizer(), seed=SEED)
        epochs.append(epoch)
        with Stopwatch() as predict:
            network.predict(test_x)
        inference.append(predict)
    augment_seconds = float("nan")
    if arch.augment is not None:
        shaped = train_x.reshape(-1, 1, 28, 28)
        rng = np.random.default_rng(SEED)
        with Stopwatch() as augmenting:
            for start in range(0, len(shaped), BATCH):
                arch.augment(shaped[start : start + BATCH], rng)
        augment_seconds = augmenting.wall
    fastest = min(epochs, key=lambda e: e.wall)
    return _timings(fastest, min(inference, key=lambda p: p.wall), len(test_x)), augment_seconds


# --- the PyTorch half: runs here if torch imports, else in --torch-python ----------------


def time_torch(data_file: Path, threads: int, repeat: int) -> Timings:
    import torch  # only ever in the benchmark's throwaway environment
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    data = np.load(data_file)
    train_x = torch.from_numpy(data["train_x"]).reshape(-1, 1, 28, 28)
    train_y = torch.from_numpy(data["train_y"].astype(np.int64))
    test_x = torch.from_numpy(data["test_x"]).reshape(-1, 1, 28, 28)
    learning_rate = get_architecture("cnn").learning_rate

    def model() -> nn.Module:
        return torch_network(get_architecture("cnn").spec, nn)

    epochs, inference = [], []
    loss_fn = nn.CrossEntropyLoss()
    warm = model()  # PyTorch's first passes pick kernels and allocate: not part of an epoch
    warm_optimizer = torch.optim.Adam(warm.parameters(), lr=learning_rate)
    for _ in range(3):
        warm_optimizer.zero_grad()
        loss_fn(warm(train_x[:BATCH]), train_y[:BATCH]).backward()
        warm_optimizer.step()
    for _ in range(repeat):
        net = model()
        optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate, eps=1e-7)
        net.train()
        with Stopwatch() as epoch:
            order = torch.randperm(len(train_x))
            for start in range(0, len(train_x), BATCH):
                idx = order[start : start + BATCH]
                optimizer.zero_grad()
                loss = loss_fn(net(train_x[idx]), train_y[idx])
                loss.backward()
                optimizer.step()
        epochs.append(epoch)
        net.eval()
        with Stopwatch() as predict, torch.no_grad():
            for start in range(0, len(test_x), PREDICT_BATCH):
                net(test_x[start : start + PREDICT_BATCH]).argmax(dim=1)
        inference.append(predict)
    fastest = min(epochs, key=lambda e: e.wall)
    return _timings(fastest, min(inference, key=lambda p: p.wall), len(test_x))


def torch_network(spec: dict[str, Any], nn: Any) -> Any:
    """nnet's architecture, layer for layer, in PyTorch (BatchNorm after Flatten is 1-D)."""
    layers, flat = [], False
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "Conv2D":
            layers.append(
                nn.Conv2d(
                    layer["in_channels"],
                    layer["out_channels"],
                    layer["kernel_size"],
                    stride=layer.get("stride", 1),
                    padding=layer.get("padding", 0),
                )
            )
        elif kind == "MaxPool2D":
            layers.append(nn.MaxPool2d(layer["pool_size"], stride=layer.get("stride")))
        elif kind == "BatchNorm":
            norm = nn.BatchNorm1d if flat else nn.BatchNorm2d
            layers.append(norm(layer["n_features"]))
        elif kind == "ReLU":
            layers.append(nn.ReLU())
        elif kind == "Flatten":
            layers.append(nn.Flatten())
            flat = True
        elif kind == "Dense":
            layers.append(nn.Linear(layer["n_inputs"], layer["n_outputs"]))
        elif kind == "Dropout":
            layers.append(nn.Dropout(layer["rate"]))
        else:
            raise ValueError(f"no PyTorch counterpart for layer type {kind}")
    return nn.Sequential(*layers)


def torch_importable() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_timings(
    python: str | None, data_file: Path, threads: int, repeat: int
) -> tuple[Timings | None, str]:
    """PyTorch's timings and the interpreter that ran them, or None and why not."""
    if torch_importable():
        return time_torch(data_file, threads, repeat), sys.executable
    if not python:
        return None, "PyTorch is not importable here and no --torch-python was given"
    command = [python, str(Path(__file__).resolve()), "--torch-half", str(data_file)]
    command += ["--threads", str(threads), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None, f"{python} failed: {done.stderr.strip().splitlines()[-1:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Timings(**result), python


# --- the report ---------------------------------------------------------------------------


def run(*, images: int = 10_000, repeat: int = 2, torch_python: str | None = None) -> int:
    """Print the figures; the exit status is 0 (the bars are reported, not enforced)."""
    torch_python = torch_python or os.environ.get("FASHIOND_TORCH_PYTHON")
    data = load_fashion_mnist()
    fmt = InputFormat()
    train_x = fmt.normalize(data.train_images[:images]).reshape(-1, 784)
    train_y = data.train_labels[:images]
    test_x = fmt.normalize(data.test_images[:PREDICT_IMAGES]).reshape(-1, 784)
    threads = cores_allowed()
    print(f"cnn: one epoch over {len(train_x):,} training images (batch {BATCH}), ", end="")
    print(f"prediction of {len(test_x):,} images; {threads} thread(s), fastest of {repeat}")
    ours, augment_seconds = time_nnet(train_x, train_y, test_x, repeat)
    scale = 60_000 / len(train_x)
    fast_enough = "ok" if ours.images_per_second >= INFERENCE_BAR else "MISSED"
    print(
        f"  nnet     epoch {ours.epoch_seconds:7.2f} s (cpu {ours.epoch_cpu_seconds:.2f} s)  "
        f"(full 60,000-image epoch ~{ours.epoch_seconds * scale:.0f} s)  "
        f"inference {ours.images_per_second:8,.0f} images/s "
        f"({ours.images_per_cpu_second:,.0f} per CPU second; bar >= {INFERENCE_BAR:,.0f}: "
        f"{fast_enough})"
    )
    print(f"  augmentation (flip + shift) adds {augment_seconds:.2f} s to that epoch")
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "cnn_data.npz"
        np.savez(data_file, train_x=train_x, train_y=train_y, test_x=test_x)
        theirs, where = torch_timings(torch_python, data_file, threads, repeat)
    if theirs is None:
        print(f"  PyTorch  skipped: {where} (try: make bench-torch)")
        return 0
    ratio = ours.epoch_seconds / theirs.epoch_seconds
    print(
        f"  PyTorch  epoch {theirs.epoch_seconds:7.2f} s (cpu {theirs.epoch_cpu_seconds:.2f} s)  "
        f"inference {theirs.images_per_second:8,.0f} images/s "
        f"({theirs.images_per_cpu_second:,.0f} per CPU second)  ({where})"
    )
    verdict = "ok" if ratio <= TRAIN_BAR else "MISSED"
    print(f"  training time ratio nnet / PyTorch: {ratio:.2f} (bar <= {TRAIN_BAR}: {verdict})")
    cpu_ratio = ours.epoch_cpu_seconds / theirs.epoch_cpu_seconds
    print(f"  training CPU-time ratio nnet / PyTorch: {cpu_ratio:.2f}")
    print(
        f"  inference ratio PyTorch / nnet: {theirs.images_per_second / ours.images_per_second:.2f}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="training images timed")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, fastest counts")
    parser.add_argument("--torch-python", help="an interpreter that can import torch")
    parser.add_argument("--torch-half", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_half is not None:  # we are the subprocess in the torch environment
        timings = time_torch(args.torch_half, args.threads or cores_allowed(), args.repeat)
        print(json.dumps(timings.__dict__))
        return 0
    return run(images=args.images, repeat=max(1, args.repeat), torch_python=args.torch_python)


if __name__ == "__main__":
    sys.exit(main())
