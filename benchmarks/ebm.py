"""The energy lab's costs on digits (8x8), measured in one run:

  JEM++ vs JEM   seconds per training epoch of `python -m training.run jempp` against `jem`, both
                 with their defaults (JEM++: 5 proximal outer steps of 3 inner; JEM: 20 SGLD steps)
  sampler        SGLD steps per second of dgm_core.ebm.SGLD against a plain reference loop written
                 here (autograd per step, clip, noise, clamp), on the same network, chains and noise
  interactive    sampling 16 images with 20 SGLD steps against one forward-backward (through the
                 parameters) of the same 16 images: how many training passes a page's "sample" costs

    python -m benchmarks.ebm [--quick]
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from benchmarks import median_seconds, run_alone
from dgm_core import ebm


def _seconds_per_epoch(model: str, epochs: int, out: Path) -> float:
    from training.run import main as train

    code = train([model, "--epochs", str(epochs), "--sample-every", str(epochs), "--out", str(out)])
    if code != 0:
        raise RuntimeError(f"python -m training.run {model} exited with {code}")
    last = json.loads((out / "history.json").read_text(encoding="utf-8"))["epochs"][-1]
    return last["seconds"] / last["epoch"]


def _reference_sgld(energy, x0, steps, step_size, sigma, clip, generator):
    """The loop a student would write: one autograd call per step, no trajectory bookkeeping."""
    x = x0.clone()
    for _ in range(steps):
        x.requires_grad_(True)
        grad = torch.autograd.grad(energy(x).sum(), x)[0]
        x = (x.detach() - step_size * grad.clamp(-clip, clip)
             + sigma * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    return x


def rows(quick: bool = False) -> list[dict]:
    torch.manual_seed(0)
    common = {"benchmark": "ebm"}
    out = []

    # JEM++ against JEM: the whole trainer, the same data, batch and network
    epochs = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        jem = _seconds_per_epoch("jem", epochs, Path(tmp) / "jem")
        jempp = _seconds_per_epoch("jempp", epochs, Path(tmp) / "jempp")
    out.append({**common, "measure": f"training seconds per epoch (digits 8x8, {epochs} epochs, defaults)",
                "ours": jempp, "reference": jem, "unit": "s/epoch", "reference_name": "JEM (ours is JEM++)",
                "ratio": jem / jempp})

    # the sampler against a plain loop: 64 chains, 20 steps, the shipped JEM network's size
    model = ebm.EnergyNet(image_size=8, channels=1, width=32, outputs=10).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x0 = ebm.uniform_noise(64, (1, 8, 8), torch.Generator().manual_seed(0))
    steps = 20
    sampler = ebm.SGLD(steps=steps, step_size=1.0, sigma_start=0.01, sigma_end=0.01, grad_clip=0.03)
    repeats = 3 if quick else 15
    ours = median_seconds(lambda: sampler.run(model.energy, x0, torch.Generator().manual_seed(1)), repeats)
    reference = median_seconds(lambda: _reference_sgld(model.energy, x0, steps, 1.0, 0.01, 0.03,
                                                          torch.Generator().manual_seed(1)), repeats)
    out.append({**common, "measure": "SGLD steps per second (64 chains, 8x8, 20 steps)", "ours": steps / ours,
                "reference": steps / reference, "unit": "steps/s", "reference_name": "plain autograd loop",
                "ratio": reference / ours})

    # sampling 16 images against one forward-backward of the same 16
    for p in model.parameters():
        p.requires_grad_(True)
    model.train()
    batch = x0[:16]

    def forward_backward():
        model.zero_grad(set_to_none=True)
        model.energy(batch).sum().backward()

    one_pass = median_seconds(forward_backward, repeats)
    sample16 = median_seconds(lambda: sampler.run(model.energy, batch, torch.Generator().manual_seed(2)), repeats)
    out.append({**common, "measure": "sampling 16 images with 20 SGLD steps", "ours": sample16 * 1000,
                "reference": one_pass * 1000, "unit": "ms", "reference_name": "one forward-backward of 16 images",
                "ratio": one_pass / sample16})
    return out


if __name__ == "__main__":
    run_alone(rows, __doc__)
