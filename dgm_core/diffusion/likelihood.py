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
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dgm_core.flow.residual import probes

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
