"""The forward (noising) process of a diffusion model and its closed forms (Ho et al., 2020, §2).

A variance schedule β_1 … β_T defines the Markov chain q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I). With
α_t = 1 − β_t and ᾱ_t = ∏_{s≤t} α_s it has the closed form

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I),        so   x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,  ε ~ N(0, I),

and the posterior of one step back, given x_0, is Gaussian too (Ho et al., eq. 6–7):

    q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I),   μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x_0 + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t,
                                             β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t.

Timesteps are counted from 0, as diffusers counts them: index t ∈ {0, …, T−1} holds β_{t+1}, and "before the
first step" is ᾱ = 1. Two schedules: linear (Ho et al.: β from 10⁻⁴ to 0.02 over 1,000 steps) and cosine
(Nichol & Dhariwal, 2021, eq. 17: ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2), β clipped at 0.999).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

KINDS = ("linear", "cosine")


@dataclass(frozen=True)
class NoiseSchedule:
    """β_t for t = 0 … T−1 and what follows from them (float64, so that 1 − ᾱ near 0 keeps its digits)."""
    betas: torch.Tensor
    kind: str = "linear"

    @property
    def steps(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return torch.cumprod(self.alphas, 0)

    def alpha_bar(self, t) -> torch.Tensor:
        """ᾱ at timestep index t (a tensor or int); ᾱ = 1 at t = −1, before any noise."""
        t = torch.as_tensor(t)
        padded = torch.cat([torch.ones(1, dtype=self.betas.dtype), self.alphas_cumprod])
        return padded[t + 1]

    def signal_to_noise(self) -> torch.Tensor:
        """SNR(t) = ᾱ_t / (1 − ᾱ_t) (Kingma et al., 2021): how much of x_0 is left at each step."""
        a = self.alphas_cumprod
        return a / (1.0 - a)


def linear_schedule(steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """β_t evenly spaced from beta_start to beta_end (Ho et al., 2020, §4)."""
    _check_steps(steps)
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError(f"need 0 < beta_start ≤ beta_end < 1; got {beta_start:g} and {beta_end:g}")
    return NoiseSchedule(torch.linspace(beta_start, beta_end, steps, dtype=torch.float64), "linear")


def cosine_schedule(steps: int = 1000, offset: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    """β_t = min(1 − ᾱ(t+1)/ᾱ(t), max_beta) with ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2) (Nichol & Dhariwal,
    2021, eq. 17): ᾱ falls slowly at both ends, so the last steps are not wasted on pure noise. The offset s
    keeps β_1 from being too small to learn; the clip keeps the last step from being a certainty."""
    _check_steps(steps)

    def bar(u: float) -> float:
        return math.cos((u + offset) / (1 + offset) * math.pi / 2) ** 2

    betas = [min(1 - bar((i + 1) / steps) / bar(i / steps), max_beta) for i in range(steps)]
    return NoiseSchedule(torch.tensor(betas, dtype=torch.float64), "cosine")


def cosine_alpha_bar(u: torch.Tensor, offset: float = 0.008) -> torch.Tensor:
    """The cosine schedule in continuous time, ᾱ(u) = f(u)/f(0) with f(u) = cos²((u + s)/(1 + s) · π/2),
    u ∈ [0, 1]: the discrete ᾱ at index t is ᾱ((t + 1)/T) (up to the clip of β near u = 1)."""
    def f(v):
        return torch.cos((v + offset) / (1 + offset) * math.pi / 2) ** 2
    return f(torch.as_tensor(u, dtype=torch.float64)) / f(torch.zeros((), dtype=torch.float64))


def cosine_time(alpha_bar: torch.Tensor, offset: float = 0.008) -> torch.Tensor:
    """The inverse of cosine_alpha_bar: the continuous time u at which the cosine schedule reaches ᾱ."""
    f0 = math.cos(offset / (1 + offset) * math.pi / 2) ** 2
    angle = torch.arccos((torch.as_tensor(alpha_bar, dtype=torch.float64) * f0).sqrt().clamp(max=1.0))
    return angle * 2 / math.pi * (1 + offset) - offset


def schedule(kind: str, steps: int = 1000) -> NoiseSchedule:
    """The schedule called `kind` (KINDS)."""
    if kind not in KINDS:
        raise ValueError(f"unknown schedule '{kind}'; choose one of {', '.join(KINDS)}")
    return linear_schedule(steps) if kind == "linear" else cosine_schedule(steps)


def _check_steps(steps: int) -> None:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"a schedule needs a whole number of steps ≥ 1; got {steps!r}")


def _per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A value per sample, shaped to broadcast over the sample's other dimensions, in its dtype."""
    return values.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


def q_sample(sched: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε: the data noised to timestep t in one draw (Ho et al., eq. 4)."""
    a = sched.alpha_bar(t)
    return _per_sample(a.sqrt(), x0) * x0 + _per_sample((1 - a).sqrt(), x0) * noise


def q_moments(sched: NoiseSchedule, t) -> tuple[torch.Tensor, torch.Tensor]:
    """The scale of x_0 and the variance in q(x_t | x_0): (√ᾱ_t, 1 − ᾱ_t)."""
    a = sched.alpha_bar(t)
    return a.sqrt(), 1 - a


def predicted_x0(sched: NoiseSchedule, x_t: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
    """x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t: the data an ε-prediction implies (Ho et al., eq. 15)."""
    a = sched.alpha_bar(torch.as_tensor(t))
    return (x_t - _per_sample((1 - a).sqrt(), x_t) * eps) / _per_sample(a.sqrt(), x_t)


def posterior(sched: NoiseSchedule, x0: torch.Tensor, x_t: torch.Tensor, t, t_prev=None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t_prev} | x_t, x_0) (Ho et al., eq. 7), for a jump from t back to t_prev
    (t − 1 unless the sampler skips steps): with α = ᾱ_t / ᾱ_prev and β = 1 − α standing for the jump,
    μ̃ = √ᾱ_prev β / (1 − ᾱ_t) · x_0 + √α (1 − ᾱ_prev) / (1 − ᾱ_t) · x_t and β̃ = (1 − ᾱ_prev) / (1 − ᾱ_t) · β."""
    t = torch.as_tensor(t)
    t_prev = t - 1 if t_prev is None else torch.as_tensor(t_prev)
    a_t, a_prev = sched.alpha_bar(t), sched.alpha_bar(t_prev)
    alpha = a_t / a_prev
    beta = 1 - alpha
    mean = (_per_sample(a_prev.sqrt() * beta / (1 - a_t), x_t) * x0
            + _per_sample(alpha.sqrt() * (1 - a_prev) / (1 - a_t), x_t) * x_t)
    variance = (1 - a_prev) / (1 - a_t) * beta
    return mean, variance
