"""The 2-D diffusion, score and flow-matching models on the 8 Gaussians (dgm_core.diffusion.toy), measured in
one run, over training seeds:

  straightness   flow matching's Euler paths with minibatch OT coupling against independent coupling
                 (path length / end-to-end distance, 500 paths per seed; 1 is straight)
  model calls    the fewest model calls each sampler needs to come within MARGIN of the best energy distance it
                 reaches at any budget, against DDPM's ancestral sampler (the reference), per seed's mean
  OT pairing     our exact assignment (scipy's linear_sum_assignment) against torchcfm's exact plan (POT's
                 network simplex) on the same batches of 256, seconds per batch

    python -m benchmarks.diffusion [--quick]
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from benchmarks import median_seconds, run_alone
from dgm_core.diffusion import ot_pairing
from dgm_core.diffusion.measures import calls_to_reach, data_floor, path_straightness, quality_against_calls
from dgm_core.diffusion.toy import KINDS, ToyDiffusion, ToyDiffusionConfig

#: A sampler "reaches" the best it can do within this energy distance (two draws of the data differ by about
#: 0.006 ± 0.004 on the 8 Gaussians with 1,000 points).
MARGIN = 0.01
BUDGETS = [2, 5, 10, 20, 50, 100, 200]


def _trained(kind: str, seed: int, steps: int) -> ToyDiffusion:
    model = ToyDiffusion(ToyDiffusionConfig(kind=kind, seed=seed))
    for _ in range(steps):
        model.step()
    return model


def rows(quick: bool = False) -> list[dict]:
    seeds, steps = ([0], 400) if quick else ([0, 1, 2], 1500)
    straight = {"flow": [], "flow-ot": []}
    reach: dict[tuple[str, str], list[int]] = {}
    floors = []
    for seed in seeds:
        models = {kind: _trained(kind, seed, steps) for kind in KINDS}
        floors.append(data_floor(models["flow"])[0])
        for kind in straight:
            straight[kind].append(path_straightness(models[kind], 50, "Euler", seed=seed)[0])
        quality = quality_against_calls(models, BUDGETS[:4] if quick else BUDGETS, seeds=2 if quick else 3)
        for key, calls in calls_to_reach(quality, MARGIN).items():
            reach.setdefault(key, []).append(calls)
        print(f"  seed {seed}: trained {steps} steps each, swept {len(quality)} sampler budgets", file=sys.stderr)
    out = [{"benchmark": "diffusion", "measure": f"Euler path length / chord, OT coupling vs independent "
                                                 f"({len(seeds)} training seeds × 500 paths)",
            "ours": float(np.mean(straight["flow-ot"])), "reference": float(np.mean(straight["flow"])),
            "unit": "ratio (1: straight)", "reference_name": "independent coupling",
            "ratio": float(np.mean(straight["flow"]) / np.mean(straight["flow-ot"]))}]
    reference = float(np.mean(reach[("ddpm", "DDPM ancestral")]))
    for (model, sampler), calls in sorted(reach.items()):
        if (model, sampler) == ("ddpm", "DDPM ancestral"):
            continue
        mine = float(np.mean(calls))
        out.append({"benchmark": "diffusion", "measure": f"model calls to within {MARGIN} of its best energy distance: "
                                                         f"{model}, {sampler} (data floor {np.mean(floors):.3f})",
                    "ours": mine, "reference": reference, "unit": "model calls", "reference_name": "DDPM ancestral",
                    "ratio": reference / mine})
    out.append(_pairing_row(quick))
    return out


def _pairing_row(quick: bool) -> dict:
    from torchcfm.optimal_transport import OTPlanSampler

    generator = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(256, 2, generator=generator), torch.randn(256, 2, generator=generator)
    sampler = OTPlanSampler(method="exact")
    repeats = 3 if quick else 7
    ours = median_seconds(lambda: ot_pairing(x0, x1), repeats)
    theirs = median_seconds(lambda: sampler.get_map(x0, x1), repeats)
    return {"benchmark": "diffusion", "measure": "exact OT pairing of a batch of 256 2-D points", "ours": ours,
            "reference": theirs, "unit": "seconds", "reference_name": "torchcfm exact plan (POT)",
            "ratio": theirs / ours}


if __name__ == "__main__":
    run_alone(rows, __doc__)
