"""Peak memory (RSS) of training on all 60,000 Fashion-MNIST images. The bar: under 1 GB.

Trains the default `mlp` recipe through nnet.training.train_model, as
`fashiond train` does, for --epochs epochs (1 by default: memory does not grow
with epochs), then prints the process's peak resident set size.

    python benchmarks/train_memory.py [--arch mlp] [--epochs 1]
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnet.architectures import ARCHITECTURES, get_architecture
from nnet.data import load_fashion_mnist
from nnet.training import train_model

BAR_MB = 1024.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="mlp")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    data = load_fashion_mnist()
    loaded = peak_rss_mb()
    model, _ = train_model(
        get_architecture(args.arch),
        train_images=data.train_images,
        train_labels=data.train_labels,
        test_images=data.test_images,
        test_labels=data.test_labels,
        epochs=args.epochs,
    )
    peak = peak_rss_mb()
    verdict = "ok" if peak < BAR_MB else "OVER the 1 GB bar"
    print(f"training {args.arch} on {len(data.train_images)} images for {args.epochs} epoch(s)")
    print(f"  peak RSS after loading the data  {loaded:7.0f} MB")
    print(f"  peak RSS after training          {peak:7.0f} MB ({verdict})")
    print(f"  test accuracy {model.metadata.test_accuracy:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
