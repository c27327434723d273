"""How much nnet's layers and optimizer cost over a bare numpy loop doing the same maths.

One epoch of a 784-256-128-10 ReLU MLP (batch 128, Adam, lr 1e-3) on all 60,000
Fashion-MNIST training images, once through nnet and once through a flat loop
written the way a person would by hand, in the same process, from the same
initial weights and batch order. Each is run --repeat times, alternating, and
the fastest run of each counts (the machine may be shared). The bar: ratio <= 1.10.
On a busy machine two steadier figures help: the CPU-time ratio (run with
OPENBLAS_NUM_THREADS=1 so that waiting BLAS threads do not count), and the median
of per-batch ratios with the two run back to back on every batch of one more epoch.

    python benchmarks/train_speed.py [--repeat 3] [--arch mlp|cnn] [--check]

`--arch cnn` hands over to benchmarks/cnn_speed.py (the CNN's own benchmark), if present.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnet.architectures import build_network
from nnet.data import load_fashion_mnist
from nnet.model import InputFormat
from nnet.network import Network
from nnet.optimizers import Adam

BATCH = 128
SEED = 0
LEARNING_RATE = 1e-3
BAR = 1.10
SPEC = {
    "input_shape": [784],
    "layers": [
        {"type": "Dense", "n_inputs": 784, "n_outputs": 256},
        {"type": "ReLU"},
        {"type": "Dense", "n_inputs": 256, "n_outputs": 128},
        {"type": "ReLU"},
        {"type": "Dense", "n_inputs": 128, "n_outputs": 10, "init": "glorot"},
    ],
}


Timing = tuple[float, float]  # (wall seconds, CPU seconds of this process)


def _now() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(started: Timing) -> Timing:
    wall, cpu = _now()
    return wall - started[0], cpu - started[1]


def nnet_epoch(network: Network, X: np.ndarray, y: np.ndarray) -> Timing:
    """The library's own path: Network.fit, shuffling and bookkeeping included."""
    started = _now()
    network.fit(X, y, 1, BATCH, optimizer=Adam(LEARNING_RATE), seed=SEED)
    return _since(started)


def fit_order(n: int, n_layers: int) -> np.ndarray:
    """The batch order Network.fit draws for SEED, so both loops see the same batches."""
    shuffle_seed = np.random.SeedSequence(SEED).spawn(1 + n_layers)[0]
    return np.random.default_rng(shuffle_seed).permutation(n)


class FlatMLP:
    """Three dense layers, ReLU, softmax cross-entropy and Adam, written out by hand.

    It does the same arithmetic in the same order as nnet (in-place bias adds
    and Adam updates, no input gradient for the first layer), so the ratio
    measures what nnet's layers, dicts and loops cost, not a clumsy baseline.
    """

    def __init__(self, weights: list[np.ndarray]) -> None:
        self.params = [p.copy() for p in weights]  # W1, b1, W2, b2, W3, b3
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, int]:
        W1, b1, W2, b2, W3, b3 = self.params
        z1 = xb @ W1
        z1 += b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2
        z2 += b2
        h2 = np.maximum(z2, 0)
        logits = h2 @ W3
        logits += b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        rows = np.arange(len(yb))
        loss = float((np.log(sums[:, 0]) - shifted[rows, yb]).mean())
        correct = int(np.count_nonzero(logits.argmax(axis=1) == yb))
        d3 = exp / sums
        d3[rows, yb] -= 1.0
        d3 /= len(yb)
        dh2 = (d3 @ W3.T) * (z2 > 0)
        dh1 = (dh2 @ W2.T) * (z1 > 0)
        grads = [xb.T @ dh1, dh1.sum(axis=0), h1.T @ dh2, dh2.sum(axis=0), h2.T @ d3, d3.sum(0)]
        self.t += 1
        beta1, beta2, t = 0.9, 0.999, self.t
        step = LEARNING_RATE * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * np.square(g)
            update = np.sqrt(v)
            update += 1e-7
            np.divide(m, update, out=update)
            update *= step
            p -= update
        return loss, correct


def flat_epoch(
    weights: list[np.ndarray], X: np.ndarray, y: np.ndarray, order: np.ndarray
) -> Timing:
    flat = FlatMLP(weights)
    started = _now()
    for start in range(0, len(X), BATCH):
        idx = order[start : start + BATCH]
        flat.step(X[idx], y[idx])
    return _since(started)


def paired_batch_ratio(
    weights: list[np.ndarray], X: np.ndarray, y: np.ndarray, order: np.ndarray
) -> float:
    """Median over one epoch of (nnet step time / flat step time) on the same batch.

    Each pair runs back to back, so a neighbour's load hits both alike: a steadier
    figure than whole epochs on a busy machine, though it leaves out fit's own loop.
    """
    network, optimizer, flat = build_network(SPEC, seed=SEED), Adam(LEARNING_RATE), FlatMLP(weights)
    ratios = []
    for start in range(0, len(X), BATCH):
        idx = order[start : start + BATCH]
        xb, yb = X[idx], y[idx]
        t0 = time.perf_counter()
        network.train_step(xb, yb, optimizer)
        t1 = time.perf_counter()
        flat.step(xb, yb)
        ratios.append((t1 - t0) / (time.perf_counter() - t1))
    return float(np.median(ratios))


def run_mlp(repeat: int) -> float:
    data = load_fashion_mnist()
    X = InputFormat().normalize(data.train_images).reshape(len(data.train_images), -1)
    y = data.train_labels.astype(np.intp)
    order = fit_order(len(X), len(SPEC["layers"]))
    initial = build_network(SPEC, seed=SEED).state()
    weights = [initial[k] for k in ("0.W", "0.b", "2.W", "2.b", "4.W", "4.b")]
    nnet_times, flat_times = [], []
    for _ in range(repeat):
        network = build_network(SPEC, seed=SEED)
        nnet_times.append(nnet_epoch(network, X, y))
        flat_times.append(flat_epoch(weights, X, y, order))
    print(f"one epoch, 60000 images, 784-256-128-10, batch {BATCH}, Adam (best of {repeat})")
    print(f"  {'':12}{'wall':>9}{'CPU':>9}")
    for name, times in (("nnet", nnet_times), ("flat numpy", flat_times)):
        print(f"  {name:12}{min(t[0] for t in times):8.2f}s{min(t[1] for t in times):8.2f}s")
    ratio = min(t[0] for t in nnet_times) / min(t[0] for t in flat_times)
    cpu_ratio = min(t[1] for t in nnet_times) / min(t[1] for t in flat_times)
    verdict = "ok" if ratio <= BAR else f"OVER the {BAR:.2f} bar"
    print(f"  ratio nnet / flat = {ratio:.3f} wall ({verdict}), {cpu_ratio:.3f} CPU")
    paired = paired_batch_ratio(weights, X, y, order)
    print(f"  paired per-batch ratio (median, steadier on a busy machine) = {paired:.3f}")
    return ratio


def run_cnn() -> int:
    try:
        cnn_speed = importlib.import_module("cnn_speed")
    except ImportError:
        print("the CNN benchmark (benchmarks/cnn_speed.py) is not available in this checkout")
        return 0
    entry = getattr(cnn_speed, "run", None) or cnn_speed.main
    return int(entry() or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, fastest counts")
    parser.add_argument("--check", action="store_true", help="exit 1 when over the bar")
    args = parser.parse_args()
    if args.arch == "cnn":
        return run_cnn()
    ratio = run_mlp(max(1, args.repeat))
    return 1 if args.check and ratio > BAR else 0


if __name__ == "__main__":
    sys.exit(main())
