"""Reverse-time samplers of an ε-prediction model ε̂(x_t, t): DDPM's ancestral step (Ho et al., 2020,
Algorithm 2) and DDIM's step with its η (Song, Meng & Ermon, 2021, eq. 12).

Both walk a list of timesteps from noisy to clean. With fewer steps than the schedule has, the timesteps are
spaced "trailing" (Lin et al., 2024, §3.3): the first is always T − 1, so sampling starts from the noise the
model was trained to see last, not from a partly clean ᾱ. Each step jumps from t to the next timestep t′
(−1 after the last: the clean image, ᾱ = 1):

    x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t
    DDPM:  x_{t′} = μ̃(x̂_0, x_t) + √β̃ z,  with μ̃, β̃ the posterior q(x_{t′} | x_t, x̂_0) (schedules.posterior)
    DDIM:  x_{t′} = √ᾱ_{t′} x̂_0 + √(1 − ᾱ_{t′} − σ²) ε̂ + σ z,   σ = η √((1 − ᾱ_{t′})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t′})

η = 0 makes DDIM deterministic (an ODE solver of the probability flow); η = 1 gives the same variance as the
DDPM step. No noise is added on the last step. `clip` bounds x̂_0 to [−c, c], the data's range (Ho et al. clip
images to [−1, 1]; diffusers' clip_sample): near pure noise, ᾱ_t is about 10⁻⁹, so x̂_0 divides the model's
error in ε̂ by √ᾱ_t ≈ 5·10⁻⁵, and a deterministic sampler carries that error to the end.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from dgm_core.diffusion.schedules import NoiseSchedule, posterior, predicted_x0

#: ε̂(x_t, t): a model's noise prediction for a batch x_t at integer timesteps t (one per sample).
EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sampling_timesteps(total: int, steps: int) -> list[int]:
    """`steps` timesteps from T − 1 down, evenly spaced ("trailing"): 999, 899, …, 99 for 10 of 1,000."""
    if not isinstance(steps, int) or not 1 <= steps <= total:
        raise ValueError(f"the sampler's steps must be a whole number from 1 to {total}; got {steps!r}")
    ratio = total / steps
    return [int(round(total - i * ratio)) - 1 for i in range(steps)]


def _previous(timesteps: list[int], index: int) -> int:
    return timesteps[index + 1] if index + 1 < len(timesteps) else -1


def _noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _x0(sched: NoiseSchedule, x_t: torch.Tensor, t: int, eps: torch.Tensor, clip: float | None) -> torch.Tensor:
    x0 = predicted_x0(sched, x_t, t, eps)
    return x0 if clip is None else x0.clamp(-clip, clip)


def ddpm_step(sched: NoiseSchedule, eps: torch.Tensor, t: int, x_t: torch.Tensor, t_prev: int,
              generator: torch.Generator | None = None, clip: float | None = None) -> torch.Tensor:
    """One ancestral step from t to t_prev: a draw from q(x_{t_prev} | x_t, x̂_0) (no noise when t is 0)."""
    x0 = _x0(sched, x_t, t, eps, clip)
    mean, variance = posterior(sched, x0, x_t, t, t_prev)
    if t <= 0:
        return mean
    return mean + variance.clamp(min=1e-20).sqrt().to(x_t.dtype) * _noise(x_t, generator)


def ddim_step(sched: NoiseSchedule, eps: torch.Tensor, t: int, x_t: torch.Tensor, t_prev: int, eta: float = 0.0,
              generator: torch.Generator | None = None, clip: float | None = None) -> torch.Tensor:
    """One DDIM step from t to t_prev with stochasticity η (0: deterministic; 1: DDPM's variance)."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"η must be between 0 and 1; got {eta:g}")
    a_t, a_prev = sched.alpha_bar(t), sched.alpha_bar(t_prev)
    x0 = _x0(sched, x_t, t, eps, clip)
    if clip is not None:      # the ε that the clipped x̂_0 implies, as diffusers recomputes it
        eps = (x_t - a_t.sqrt().to(x_t.dtype) * x0) / (1 - a_t).sqrt().to(x_t.dtype)
    sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()
    direction = (1 - a_prev - sigma ** 2).clamp(min=0).sqrt().to(x_t.dtype) * eps
    x = a_prev.sqrt().to(x_t.dtype) * x0 + direction
    if eta > 0:
        x = x + sigma.to(x_t.dtype) * _noise(x_t, generator)
    return x


@torch.no_grad()
def sample(eps_model: EpsModel, sched: NoiseSchedule, x_T: torch.Tensor, steps: int, method: str = "ddpm",
           eta: float = 0.0, generator: torch.Generator | None = None, trajectory: bool = False,
           clip: float | None = None):
    """Denoise x_T (a draw of N(0, I)) with `steps` model calls by DDPM ("ddpm") or DDIM ("ddim", with η).
    Returns the samples, or with trajectory=True the list of every x from x_T to the samples."""
    if method not in ("ddpm", "ddim"):
        raise ValueError(f"unknown sampler '{method}'; choose ddpm or ddim")
    timesteps = sampling_timesteps(sched.steps, steps)
    x, path = x_T, [x_T]
    for i, t in enumerate(timesteps):
        eps = eps_model(x, torch.full((len(x),), t, dtype=torch.long, device=x.device))
        t_prev = _previous(timesteps, i)
        x = (ddpm_step(sched, eps, t, x, t_prev, generator, clip) if method == "ddpm" else
             ddim_step(sched, eps, t, x, t_prev, eta, generator, clip))
        path.append(x)
    return path if trajectory else x
