"""What the diffusion lab measures of its 2-D models (dgm_core.diffusion.toy), each once, with its sample size
and spread: sample quality against the sampler's model calls, the learned score against the true one per
time on a Gaussian-mixture toy, and how straight each sampler's paths are.

Quality is the energy distance (dgm_core.metrics.energy_distance) between n samples and n held-out points,
averaged over seeds of the sampler's noise, with the standard deviation over those seeds; the floor is two
draws of the data itself, measured the same way.
"""
from __future__ import annotations

import numpy as np
import torch

from dgm_core.diffusion.flow_matching import straightness
from dgm_core.diffusion.toy import LEVELS, SAMPLERS, SIGMA_MAX, SIGMA_MIN, TRAIN_STEPS, ToyDiffusion
from dgm_core.metrics import energy_distance


def data_floor(model: ToyDiffusion, n: int = 1000, seeds: int = 5) -> tuple[float, float]:
    """The energy distance between two fresh draws of the data, mean and sd over seeds: what a perfect
    sampler scores (its noise), on the model's own dataset."""
    from dgm_core.data import sample_toy

    values = [energy_distance(sample_toy(model.config.dataset, n, seed=10_000 + 2 * s).numpy(),
                              sample_toy(model.config.dataset, n, seed=10_001 + 2 * s).numpy()) for s in range(seeds)]
    return float(np.mean(values)), float(np.std(values, ddof=1))


def quality_against_calls(models: dict[str, ToyDiffusion], budgets: list[int], seeds: int = 3, n: int = 1000
                          ) -> list[dict]:
    """One row per model, sampler and budget: the model calls made, and the energy distance to held-out data
    (mean and sd over `seeds` seeds of the sampler's noise, n samples each)."""
    rows = []
    for name, model in models.items():
        held_out = model.held_out[:n].numpy()
        for sampler in SAMPLERS[model.config.kind]:
            for budget in budgets:
                values = [energy_distance(model.sample(n, budget, torch.Generator().manual_seed(seed), sampler).numpy(),
                                          held_out) for seed in range(seeds)]
                rows.append({"model": name, "sampler": sampler, "model calls": model.calls(sampler, budget),
                             "energy distance": float(np.mean(values)),
                             "sd over seeds": float(np.std(values, ddof=1)) if seeds > 1 else None, "seeds": seeds})
    return rows


def calls_to_reach(rows: list[dict], margin: float) -> dict[tuple[str, str], int | None]:
    """For each (model, sampler): the fewest model calls whose energy distance is within `margin` of the best
    that sampler reached at any budget (None where no budget is)."""
    out = {}
    for key in {(r["model"], r["sampler"]) for r in rows}:
        mine = sorted((r for r in rows if (r["model"], r["sampler"]) == key), key=lambda r: r["model calls"])
        best = min(r["energy distance"] for r in mine)
        out[key] = next((r["model calls"] for r in mine if r["energy distance"] <= best + margin), None)
    return out


@torch.no_grad()
def score_error_by_time(model: ToyDiffusion, times: list[float], n: int = 2000, seed: int = 0) -> list[dict]:
    """On a Gaussian-mixture toy, at each time ∈ [0, 1] (0: the data's end): the learned score's mean squared
    error against the noised mixture's true score at points drawn from that noised law, relative to the true
    score's mean square. Flow matching learns a velocity, not a score: it is not measured here."""
    if model.config.kind not in ("ddpm", "score"):
        raise ValueError("the score error is measured for DDPM and score matching; flow matching learns a velocity")
    rows = []
    generator = torch.Generator().manual_seed(seed)
    for time in times:
        law = model.noised_mixture(time)
        if law is None:
            raise ValueError("the true score is known on the Gaussian-mixture toys (8 or 25 Gaussians) only")
        x = law.sample(n, generator)
        true = law.score(x)
        learned = model.field_at(x.float(), time).double()
        error = float(((learned - true) ** 2).sum(1).mean())
        rows.append({"time": time, "mean squared error": error,
                     "relative error": error / float((true ** 2).sum(1).mean()), "points": n})
    return rows


@torch.no_grad()
def path_straightness(model: ToyDiffusion, budget: int, sampler: str | None = None, n: int = 500, seed: int = 0
                      ) -> tuple[float, float]:
    """Mean and sd over n paths of length / end-to-end distance (1: straight) of a deterministic sampler."""
    sampler = sampler or SAMPLERS[model.config.kind][0]
    if sampler in ("DDPM ancestral", "annealed Langevin"):
        raise ValueError(f"{sampler} adds noise at every step: its paths are not curves to measure; use DDIM, "
                         "Euler or Heun")
    path = model.sample(n, budget, torch.Generator().manual_seed(seed), sampler, trajectory=True)
    values = straightness(path)
    return float(values.mean()), float(values.std())


def held_out_likelihood(model: ToyDiffusion, n: int = 500) -> dict | None:
    """The model's mean log-likelihood of n held-out points (nats per point, exact divergence) with its standard
    error over the points, beside the true density's on the same points where the toy is a Gaussian mixture
    (the best any model can do on average); None for a model without an ODE (score matching)."""
    points = model.held_out[:n]
    log_p = model.log_likelihood(points)
    if log_p is None:
        return None
    true = None if model.mixture is None else model.mixture.log_prob(points.double()).float()
    return {"mean": float(log_p.mean()), "se": float(log_p.std() / len(log_p) ** 0.5), "points": len(log_p),
            "true": None if true is None else float(true.mean())}


@torch.no_grad()
def fd_against_calls(model, budgets: list[int], frechet_distance_of, generator: torch.Generator, samples: int = 1000,
                     draws: int = 2, batch: int = 500, extra: dict[str, list[int]] | None = None) -> list[dict]:
    """For a digits model (dgm_core.diffusion.image.DiffusionModel): each sampler at each budget of model calls
    (and a sampler named in `extra` at those budgets too), the Fréchet distance of `draws` draws of `samples`
    samples of the model's p(x), its classes in turn with no guidance (`frechet_distance_of(images)`: the comparison's function,
    dgm_core.compare.frechet_distance_to_test), mean and sd over the draws."""
    from dgm_core.diffusion.image import SAMPLERS

    rows = []
    for sampler in SAMPLERS[model.kind]:
        done = set()
        for budget in sorted(set(budgets) | set((extra or {}).get(sampler, []))):
            calls = model.calls(sampler, budget)
            if calls in done:                  # DDPM and DDIM stop at the schedule's 1,000 steps
                continue
            done.add(calls)
            values = []
            for _ in range(draws):
                images = torch.cat([model.sample(min(batch, samples - i), generator, calls=budget, sampler=sampler).cpu()
                                    for i in range(0, samples, batch)])
                values.append(float(frechet_distance_of(images)))
            rows.append({"sampler": sampler, "model calls": calls, "fd": float(np.mean(values)),
                         "fd_sd": float(np.std(values, ddof=1)) if draws > 1 else None, "draws": draws,
                         "samples": samples})
    return rows


__all__ = ["fd_against_calls", "held_out_likelihood", "data_floor", "quality_against_calls", "calls_to_reach", "score_error_by_time", "path_straightness",
           "LEVELS", "SIGMA_MAX", "SIGMA_MIN", "TRAIN_STEPS"]
