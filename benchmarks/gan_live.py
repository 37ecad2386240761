"""Live 2-D training speed: GAN, WGAN and WGAN-GP advanced together, as the GAN page does.

Ours: dgm_core.gan.side_by_side (a dgm_core.live.LiveSession) at the lab's defaults (2 hidden layers of 64 units, batch 128; a
step is one generator update: 1 + 1 updates for the GAN, 5 + 1 for each WGAN).
Reference, measured in the same run: the textbook PyTorch loop of the same sizes — nn.Sequential
of nn.Linear, torch.optim (Adam / RMSprop), loss.backward, the weight clip as a loop over
parameters, and every metric read with .item() every step — as a student would write it.

Each is measured under two thread policies — torch's default (one thread per core) and one
thread (what the app and the Space use: dgm_core/runtime.py) — on an idle machine and with a
second busy process (another torch job multiplying matrices on every core, as another session or
a training run would). Prints steps per second and the ratios ours / textbook.

    python -m benchmarks.gan_live [--seconds 5]
"""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from dgm_core import gan
from dgm_core.data import sample_toy

BUSY = "import torch\na = torch.randn(768, 768)\nwhile True:\n    a @ a\n"


def textbook_step(kind: str):
    """One textbook training step of `kind` at the lab's sizes, as a closure."""
    config = gan.default_config(kind)
    width, b = config.hidden, config.batch_size

    def mlp(n_out):
        return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, n_out))

    generator, critic = mlp(2), mlp(1)
    pool = sample_toy(config.dataset, 100_000, seed=0)
    if kind == "wgan":
        opt_g = torch.optim.RMSprop(generator.parameters(), lr=config.lr_generator)
        opt_d = torch.optim.RMSprop(critic.parameters(), lr=config.lr_critic)
    else:
        betas = (0.5, 0.9) if kind == "wgan-gp" else (0.5, 0.999)
        opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_generator, betas=betas)
        opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr_critic, betas=betas)
    history = []

    def step():
        for _ in range(config.n_critic):
            real = pool[torch.randint(len(pool), (b,))]
            fake = generator(torch.randn(b, 2)).detach()
            real_out, fake_out = critic(real), critic(fake)
            if kind == "gan":
                loss_d = F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out)) + \
                    F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
            else:
                loss_d = fake_out.mean() - real_out.mean()
                if kind == "wgan-gp":
                    eps = torch.rand(b, 1)
                    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
                    grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
                    loss_d = loss_d + config.gp_lambda * ((grad.norm(dim=1) - 1) ** 2).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            if kind == "wgan":
                for p in critic.parameters():
                    p.data.clamp_(-config.clip, config.clip)
        out = critic(generator(torch.randn(b, 2)))
        loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out)) if kind == "gan" else -out.mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        record = {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        if kind != "gan":
            record["wasserstein"] = (real_out.mean() - fake_out.mean()).item()
        history.append(record)

    return step


def textbook_rate(seconds: float) -> float:
    steps = [textbook_step(kind) for kind in gan.KINDS]
    for step in steps:
        step()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        for step in steps:
            step()
        n += 1
    return n / (time.perf_counter() - start)


def ours_rate(seconds: float) -> float:
    live = gan.side_by_side({kind: gan.default_config(kind) for kind in gan.KINDS})
    live.advance(1)
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        n += live.advance(10**6, seconds=0.3)     # a slice of training, as a refresh of the Space's stream takes
    return n / (time.perf_counter() - start)


@contextlib.contextmanager
def busy_process(enabled: bool):
    """Another process multiplying matrices on every core for as long as the block runs."""
    if not enabled:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(1.0)                   # let it start spinning
        yield
    finally:
        process.kill()
        process.wait()


def rows(quick: bool = False, seconds: float | None = None) -> list[dict]:
    seconds = seconds or (1.5 if quick else 5.0)
    default_threads = torch.get_num_threads()
    measured = {}
    for busy in (False, True):
        with busy_process(busy):
            for threads in sorted({default_threads, 1}):
                torch.set_num_threads(threads)
                measured[busy, threads, "textbook"] = textbook_rate(seconds)
                measured[busy, threads, "ours"] = ours_rate(seconds)
    torch.set_num_threads(default_threads)
    out = []
    for busy in (False, True):
        machine = "busy (2nd process)" if busy else "idle"
        pairs = [(f"{machine}, both {default_threads} threads (torch default)", default_threads, default_threads),
                 (f"{machine}, both 1 thread", 1, 1),
                 (f"{machine}, ours 1 thread vs textbook {default_threads} (each its policy)", 1, default_threads)]
        for label, ours_threads, ref_threads in pairs:
            if label.endswith("(torch default)") and default_threads == 1:
                continue
            ours, reference = measured[busy, ours_threads, "ours"], measured[busy, ref_threads, "textbook"]
            out.append({"benchmark": "gan_live", "measure": f"3 toy GANs, {label}", "ours": ours,
                        "reference": reference, "unit": "steps/s", "reference_name": "textbook PyTorch loop",
                        "ratio": ours / reference})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per configuration")
    args = parser.parse_args()
    print("GAN + WGAN + WGAN-GP advanced together (steps per second; higher is better):")
    for row in rows(seconds=args.seconds):
        print(f"  {row['measure']:<62} ours {row['ours']:6.1f}   textbook {row['reference']:6.1f}   "
              f"ratio {row['ratio']:4.2f}x")


if __name__ == "__main__":
    main()
