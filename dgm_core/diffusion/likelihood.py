"""Log-likelihood through an ODE: a continuous normalizing flow (Chen et al., 2018; Grathwohl et al., 2019).

A velocity field v(x, t) that carries N(0, I) at t = 0 to the data at t = 1 (flow matching's, or the
probability-flow ODE of a diffusion model, Song et al., 2021, §4.3) changes log-density along a path by the
instantaneous change of variables, d log p(x_t)/dt = −∇·v(x_t, t). Integrating back from a data point x at
t = 1 to its noise x_0,

    log p_1(x) = log N(x_0; 0, I) − ∫_0^1 ∇·v(x_t, t) dt.

The divergence is exact (D backward passes, one per dimension: fine in 2-D) or Hutchinson's estimate
E_ε[εᵀ (∂v/∂x) ε] with E[ε εᵀ] = I (one backward pass per probe: what images need; the flow lab's
residual-flow playground estimates a log-determinant the same way, and its probes are reused here).
The integral is fourth-order Runge–Kutta with `steps` equal steps, the divergence integrated alongside.

A DDPM's ε-prediction gives its probability-flow ODE (Song et al., 2021, eq. 13, for the variance-preserving
SDE). Written in λ = log σ̄ with σ̄² = (1 − ᾱ)/ᾱ (the noise-to-signal ratio whose square root DDIM's ODE
steps in, dx̄/dσ̄ = ε̂ for x̄ = x/√ᾱ; Song et al., 2021a, eq. 14), and carried back to x = √ᾱ x̄, it is

    dx/dλ = −(1 − ᾱ) x + √(1 − ᾱ) ε̂(x, ᾱ),

bounded at both ends, where the same ODE in the schedule's own time has β(t) → ∞ as ᾱ → 0. `vp_velocity`
maps λ from σ̄_max (noise, t = 0) down to σ̄_min (the data end, t = 1), so `log_likelihood` integrates it as
it integrates flow matching's velocity.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dgm_core.generative import probes

DIVERGENCES = ("exact", "hutchinson")
VelocityModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def divergence(velocity: VelocityModel, x: torch.Tensor, t: torch.Tensor, method: str = "exact",
               probe: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """v(x, t) and ∇·v per sample: exactly, or by Hutchinson with the given probe (shaped like x)."""
    if method not in DIVERGENCES:
        raise ValueError(f"unknown divergence '{method}'; choose one of {', '.join(DIVERGENCES)}")
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        v = velocity(x, t)
        if method == "hutchinson":
            (vjp,) = torch.autograd.grad(v, x, probe)
            return v.detach(), (vjp * probe).flatten(1).sum(1)
        flat = v.flatten(1)
        total = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for i in range(flat.shape[1]):
            (row,) = torch.autograd.grad(flat[:, i].sum(), x, retain_graph=i + 1 < flat.shape[1])
            total = total + row.flatten(1)[:, i]
        return v.detach(), total


def vp_velocity(eps: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], sigma_min: float, sigma_max: float
                ) -> VelocityModel:
    """The probability-flow ODE of an ε-prediction model eps(x, ᾱ) as a velocity on t ∈ [0, 1]: λ = log σ̄ runs
    from log sigma_max at t = 0 (where x is nearly N(0, I): √ᾱ = 1/√(1 + σ̄²)) to log sigma_min at t = 1, and
    dx/dt = (dx/dλ)(dλ/dt) = −(λ_max − λ_min) (−(1 − ᾱ) x + √(1 − ᾱ) ε̂)."""
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max; got {sigma_min:g} and {sigma_max:g}")
    top, bottom = math.log(sigma_max), math.log(sigma_min)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        lam = top - t * (top - bottom)
        alpha_bar = torch.sigmoid(-2 * lam).to(x.dtype)            # ᾱ = 1/(1 + σ̄²) = 1/(1 + e^{2λ})
        noise = (1 - alpha_bar).reshape(-1, *([1] * (x.dim() - 1)))
        return -(top - bottom) * (-noise * x + noise.sqrt() * eps(x, alpha_bar))

    return velocity


def cosine_ddpm_velocity(eps_at: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], steps: int = 1000,
                         sigma_max: float = 1000.0) -> VelocityModel:
    """The probability-flow velocity (vp_velocity) of a DDPM trained on the cosine schedule of `steps` steps whose
    network eps_at(x, c) takes c = t/T for the timestep index t: the ODE runs from σ̄ = sigma_max down to the σ̄
    of the first step, and the network is asked at the index the continuous cosine schedule gives each ᾱ
    (the discrete index t is the continuous u = (t + 1)/T)."""
    from dgm_core.diffusion.schedules import cosine_schedule, cosine_time

    a0 = float(cosine_schedule(steps).alpha_bar(0))

    def eps(x: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
        index = (cosine_time(alpha_bar) * steps - 1).clamp(0, steps - 1)
        return eps_at(x, (index / steps).to(x.dtype))

    return vp_velocity(eps, math.sqrt((1 - a0) / a0), sigma_max)


def log_likelihood(velocity: VelocityModel, x: torch.Tensor, steps: int = 50, method: str = "exact",
                   probe_kind: str = "rademacher", generator: torch.Generator | None = None) -> torch.Tensor:
    """log p_1(x) in nats per sample, integrating from t = 1 back to 0 (RK4, `steps` steps). Hutchinson draws
    one probe per sample, held fixed along the path (Grathwohl et al., §3.1), so the estimate is unbiased."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"the integral needs a whole number of steps ≥ 1; got {steps!r}")
    probe = None
    if method == "hutchinson":
        probe = probes(probe_kind, len(x), x[0].numel(), generator).to(x.dtype).reshape(x.shape)

    def field(state: torch.Tensor, time: float) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.full((len(state),), time, dtype=state.dtype, device=state.device)
        return divergence(velocity, state, t, method, probe)

    h = -1.0 / steps
    state, integral = x.detach(), torch.zeros(len(x), dtype=x.dtype, device=x.device)
    for i in range(steps):
        time = 1.0 + i * h
        v1, d1 = field(state, time)
        v2, d2 = field(state + h / 2 * v1, time + h / 2)
        v3, d3 = field(state + h / 2 * v2, time + h / 2)
        v4, d4 = field(state + h * v3, time + h)
        state = state + h / 6 * (v1 + 2 * v2 + 2 * v3 + v4)
        integral = integral + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)     # ∫ from 1 down to 0: the sign is in h
    dims = x[0].numel()
    log_noise = -0.5 * (state.flatten(1) ** 2).sum(1) - 0.5 * dims * math.log(2 * math.pi)
    return log_noise + integral
