"""The 2-D diffusion, score and flow-matching models on the 8 Gaussians (dgm_core.diffusion.toy), measured in
one run, over training seeds:

  straightness   flow matching's Euler paths with minibatch OT coupling against independent coupling
                 (path length / end-to-end distance, 500 paths per seed; 1 is straight)
  model calls    the fewest model calls each sampler needs to come within MARGIN of the best energy distance it
                 reaches at any budget, against DDPM's ancestral sampler (the reference), per seed's mean
  OT pairing     our exact assignment (scipy's linear_sum_assignment) against torchcfm's exact plan (POT's
                 network simplex) on the same batches of 256, seconds per batch
  training speed one Adam step of flow matching (independent and OT coupling) on 2-D (the live MLP, batch 256)
                 and on digits (the trainer's conv net, batch 128): ours against torchcfm's loop
                 (ConditionalFlowMatcher / ExactOptimalTransportConditionalFlowMatcher) and a plain textbook
                 loop, each the same network, batch, optimiser and data, seconds per step
  digits         from the shipped checkpoints' stored curves: the model calls each sampler needs to come within
                 DIGIT_MARGIN of its best Fréchet distance, against DDPM's ancestral sampler

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
    out += _speed_rows(quick)
    out += _digit_rows()
    return out


def _step_seconds(loss_of_batch, parameters, batches, repeats: int) -> float:
    """Median seconds of one Adam step on the next batch (`loss_of_batch(x)` -> loss)."""
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    stream = iter(batches)

    def step():
        loss = loss_of_batch(next(stream))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return median_seconds(step, repeats)


def _speed_rows(quick: bool) -> list[dict]:
    """Ours against torchcfm's loop and a textbook loop, the same network and batches; seconds per step."""
    import copy

    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
    )

    from dgm_core.data import load_dataset
    from dgm_core.diffusion.image import DiffusionModel

    repeats = 10 if quick else 60
    out = []
    for coupling, theirs in (("independent", ConditionalFlowMatcher(sigma=0.0)),
                             ("ot", ExactOptimalTransportConditionalFlowMatcher(sigma=0.0))):
        # 2-D: the live model's own step (batch drawn from its pool) against the same MLP in the other loops
        live = ToyDiffusion(ToyDiffusionConfig(kind="flow" if coupling == "independent" else "flow-ot"))
        pool, batch = live.pool, live.config.batch_size
        g = torch.Generator().manual_seed(5)
        batches = [pool[torch.randint(len(pool), (batch,), generator=g)] for _ in range(repeats + 2)]
        ours = median_seconds(live.step, repeats)
        net = copy.deepcopy(live.net)

        def torchcfm_loss(x1, net=net, fm=theirs):
            t, xt, ut = fm.sample_location_and_conditional_flow(torch.randn_like(x1), x1)
            return ((net(xt, t) - ut) ** 2).sum(1).mean()

        def textbook_loss(x1, net=net):
            x0, t = torch.randn_like(x1), torch.rand(len(x1), 1)
            return ((net((1 - t) * x0 + t * x1, t[:, 0]) - (x1 - x0)) ** 2).sum(1).mean()

        references = {"torchcfm's loop": _step_seconds(torchcfm_loss, net.parameters(), batches, repeats)}
        if coupling == "independent":
            references["a textbook loop"] = _step_seconds(textbook_loss, net.parameters(), batches, repeats)
        for name, seconds in references.items():
            out.append({"benchmark": "diffusion", "measure": f"one training step, 2-D flow matching ({coupling} coupling, "
                                                             f"batch {batch}, MLP width {live.config.hidden})",
                        "ours": ours, "reference": seconds, "unit": "seconds per step", "reference_name": name,
                        "ratio": seconds / ours})
    # digits: the trainer's model and loss against the same conv net in torchcfm's loop and a textbook loop
    images = load_dataset("digits", "train", 8)
    model = DiffusionModel(kind="flow", levels=17)
    g = torch.Generator().manual_seed(6)
    index = [torch.randint(len(images.images), (128,), generator=g) for _ in range(repeats + 2)]
    batches = [(images.images[i], images.labels[i]) for i in index]
    ours = _step_seconds(lambda b: model.training_loss(*b), model.parameters(), batches, repeats)
    net, fm = copy.deepcopy(model.net), ConditionalFlowMatcher(sigma=0.0)

    def torchcfm_digits(b):
        x1 = model.dequantized(b[0])
        t, xt, ut = fm.sample_location_and_conditional_flow(torch.randn_like(x1), x1)
        return ((net(xt, t, b[1]) - ut) ** 2).flatten(1).sum(1).mean()

    def textbook_digits(b):
        x1 = model.dequantized(b[0])
        x0, t = torch.randn_like(x1), torch.rand(len(x1))
        tt = t.view(-1, 1, 1, 1)
        return ((net((1 - tt) * x0 + tt * x1, t, b[1]) - (x1 - x0)) ** 2).flatten(1).sum(1).mean()

    for name, loss in (("torchcfm's loop", torchcfm_digits), ("a textbook loop", textbook_digits)):
        seconds = _step_seconds(loss, net.parameters(), batches, repeats)
        out.append({"benchmark": "diffusion", "measure": "one training step, digits flow matching (batch 128, the "
                                                         "trainer's conv net, labels dropped 10 % in ours)",
                    "ours": ours, "reference": seconds, "unit": "seconds per step", "reference_name": name,
                    "ratio": seconds / ours})
    return out


#: On digits a sampler "reaches" its best Fréchet distance within this share of it.
DIGIT_MARGIN = 0.1


def _digit_rows() -> list[dict]:
    """The model calls each sampler of the shipped digits models needs to come within DIGIT_MARGIN of its best
    Fréchet distance (from the curves each trainer stored), against DDPM's ancestral sampler; mean over seeds."""
    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.labs.diffusion import digit_calls_to_reach, digit_runs

    reach = digit_calls_to_reach({name: load_checkpoint(name).history.get("fd_by_calls", {}).get("rows", [])
                                  for name in digit_runs("digits")}, DIGIT_MARGIN)
    reference = [calls for (name, sampler), calls in reach.items() if sampler == "DDPM ancestral" and calls]
    if not reference:
        return []
    out = []
    for (name, sampler), calls in sorted(reach.items()):
        if sampler == "DDPM ancestral" or calls is None:
            continue
        out.append({"benchmark": "diffusion", "measure": f"digits: model calls to within {DIGIT_MARGIN:.0%} of its best "
                                                         f"Fréchet distance, {name}, {sampler}",
                    "ours": float(calls), "reference": float(np.mean(reference)), "unit": "model calls",
                    "reference_name": "DDPM ancestral, mean over seeds", "ratio": float(np.mean(reference)) / calls})
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
