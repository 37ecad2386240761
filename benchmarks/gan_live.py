"""Live 2-D training speed: GAN, WGAN and WGAN-GP advanced together, as the GAN page does.

Ours: dgm_core.gan.ToyGAN at the lab's defaults (2 hidden layers of 64, batch 128; one step =
n_critic critic updates + one generator update; n_critic 1 / 5 / 5). Reference, in the same run:
the same code at the size of Gulrajani et al.'s toy experiments (3 hidden layers of 512, batch
256). Prints steps per second for the three together and the ratio.

    python -m benchmarks.gan_live [--seconds 10]
"""
from __future__ import annotations

import argparse
import time

import torch

import dgm_core.gan as gan


def rate(seconds: float, **overrides) -> float:
    models = [gan.ToyGAN(gan.default_config(kind, **overrides)) for kind in gan.KINDS]
    for m in models:
        m.train(3)
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        for m in models:
            m.step()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    ours = rate(args.seconds)
    original = gan.mlp
    gan.mlp = lambda n_in, n_out, hidden, layers=3: original(n_in, n_out, hidden, layers)
    try:
        reference = rate(args.seconds, hidden=512, batch_size=256)
    finally:
        gan.mlp = original
    print(f"GAN + WGAN + WGAN-GP advanced together, torch threads {torch.get_num_threads()}:")
    print(f"  lab defaults (2x64, batch 128)         {ours:7.1f} steps/s   (goal: 100)")
    print(f"  paper's toy size (3x512, batch 256)    {reference:7.1f} steps/s   (ours is {ours / reference:.1f}x faster)")


if __name__ == "__main__":
    main()
