"""Flow matching (Lipman et al., 2023) on the straight path of rectified flow (Liu et al., 2023), with
independent or minibatch optimal-transport coupling (Tong et al., 2024), and its ODE samplers.

Noise x_0 ~ N(0, I) and data x_1 are paired, and a velocity field v(x, t) learns the straight path between them:

    x_t = (1 − t) x_0 + t x_1 (+ σ ε),   u_t = x_1 − x_0,   L = E_{t ~ U(0,1)} ‖v(x_t, t) − u_t‖²

(conditional flow matching, Tong et al., eq. 12; σ = 0 is rectified flow). Its minimiser is the marginal
velocity E[u_t | x_t], whose flow carries N(0, I) to the data. Independent coupling pairs a batch of noise
with a batch of data at random, so paths cross and the marginal field bends; minibatch OT coupling pairs
them by the assignment with the least total squared distance, which straightens the paths (fewer ODE steps).
Sampling integrates dx/dt = v(x, t) from t = 0 to 1 by Euler's method or Heun's (second order).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

COUPLINGS = ("independent", "ot")
SOLVERS = ("euler", "heun")

#: v(x, t): a model's velocity for a batch x at times t ∈ [0, 1] (one per sample).
VelocityModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def conditional_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, sigma: float = 0.0,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t = (1 − t) x_0 + t x_1 + σ ε and its target velocity u_t = x_1 − x_0 (t one per sample)."""
    tt = t.to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
    x_t = (1 - tt) * x0 + tt * x1
    if sigma > 0:
        x_t = x_t + sigma * torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    return x_t, x1 - x0


def ot_pairing(x0: torch.Tensor, x1: torch.Tensor) -> np.ndarray:
    """The permutation π that pairs x0[π[i]] with x1[i] at the least total squared Euclidean distance (an exact
    assignment: with equal batch sizes and uniform weights the optimal transport plan is a permutation)."""
    if len(x0) != len(x1):
        raise ValueError(f"OT coupling pairs batches of one size; got {len(x0)} and {len(x1)}")
    cost = torch.cdist(x0.flatten(1).double(), x1.flatten(1).double()) ** 2
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    pairing = np.empty(len(x1), dtype=np.int64)
    pairing[cols] = rows
    return pairing


def couple(x0: torch.Tensor, x1: torch.Tensor, coupling: str) -> torch.Tensor:
    """The noise reordered to pair with the data: as drawn ("independent") or by minibatch OT ("ot")."""
    if coupling not in COUPLINGS:
        raise ValueError(f"unknown coupling '{coupling}'; choose one of {', '.join(COUPLINGS)}")
    return x0 if coupling == "independent" else x0[torch.from_numpy(ot_pairing(x0, x1)).to(x0.device)]


def flow_matching_loss(velocity: VelocityModel, x1: torch.Tensor, generator: torch.Generator | None = None,
                       coupling: str = "independent", sigma: float = 0.0) -> torch.Tensor:
    """The conditional flow matching loss of one batch of data x1: noise and times drawn with `generator`."""
    x0 = torch.randn(x1.shape, generator=generator, dtype=x1.dtype, device=x1.device)
    t = torch.rand(len(x1), generator=generator, dtype=x1.dtype, device=x1.device)
    x_t, u_t = conditional_path(couple(x0, x1, coupling), x1, t, sigma, generator)
    return ((velocity(x_t, t) - u_t) ** 2).flatten(1).sum(1).mean()


@torch.no_grad()
def integrate(velocity: VelocityModel, x0: torch.Tensor, steps: int, solver: str = "euler",
              trajectory: bool = False):
    """x(1) from x(0) = x0 along dx/dt = v(x, t) in `steps` equal steps: Euler, x += h v(x, t); or Heun,
    the trapezoid of v at both ends of an Euler step (two model calls per step). With trajectory=True,
    every x from x(0) to x(1)."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver '{solver}'; choose one of {', '.join(SOLVERS)}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"the solver's steps must be a whole number ≥ 1; got {steps!r}")
    h = 1.0 / steps
    x, path = x0, [x0]
    for i in range(steps):
        t = torch.full((len(x),), i * h, dtype=x.dtype, device=x.device)
        v = velocity(x, t)
        if solver == "euler":
            x = x + h * v
        else:
            guess = x + h * v
            x = x + h / 2 * (v + velocity(guess, t + h))
        path.append(x)
    return path if trajectory else x


def straightness(path: list[torch.Tensor]) -> torch.Tensor:
    """Per sample: the path's length over the distance between its ends (1 for a straight line; Liu et al.
    measure the same idea as the gap between the path and its chord)."""
    steps = torch.stack([(b - a).flatten(1).norm(dim=1) for a, b in zip(path, path[1:])]).sum(0)
    chord = (path[-1] - path[0]).flatten(1).norm(dim=1)
    return steps / chord.clamp(min=1e-12)
