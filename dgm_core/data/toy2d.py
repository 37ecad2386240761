"""2-D toy distributions for the live-training widgets (GANs, flows, energy models).

Each is sampled with a seed, so two models trained "on the same data" really see the same
points. Mixtures also expose their mode centres and standard deviation, so mode coverage can be
counted (Srivastava et al., 2017: a mode is captured when enough samples fall within 3σ of it).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from dgm_core.data.errors import DatasetError

TOY_DISTRIBUTIONS = ["8gaussians", "25gaussians", "ring", "moons", "swissroll", "checkerboard", "spirals"]
MIXTURE_STD = 0.05


def toy_modes(name) -> tuple[np.ndarray, float] | None:
    """(centres (M, 2), σ) of a Gaussian-mixture toy, or None for the others (and a student's own points)."""
    if name == "8gaussians":
        angles = np.arange(8) * 2 * math.pi / 8
        return np.stack([2 * np.cos(angles), 2 * np.sin(angles)], axis=1), MIXTURE_STD
    if name == "25gaussians":
        grid = np.arange(-2, 3) * 1.0
        return np.array([(x, y) for x in grid for y in grid]), MIXTURE_STD
    return None


def sample_toy(name, n: int, seed: int | None = 0) -> torch.Tensor:
    """n points (n, 2) float32 from the named distribution, all roughly within [-4, 4]^2; `name` may
    also be a student's own points (dgm_core.data.points.OwnPoints), drawn from with replacement."""
    from dgm_core.data.points import OwnPoints, sample_own

    if isinstance(name, OwnPoints):
        return sample_own(name, n, seed)
    if name not in TOY_DISTRIBUTIONS:
        raise DatasetError(f"Unknown 2-D distribution {name!r}: choose one of {', '.join(TOY_DISTRIBUTIONS)}.")
    if not isinstance(n, int) or n < 1:
        raise DatasetError(f"n must be a positive number of points; got {n!r}.")
    rng = np.random.default_rng(seed)
    modes = toy_modes(name)
    if modes is not None:
        centres, std = modes
        x = centres[rng.integers(0, len(centres), size=n)] + std * rng.standard_normal((n, 2))
    elif name == "ring":
        angle = rng.uniform(0, 2 * math.pi, n)
        radius = 2 + 0.08 * rng.standard_normal(n)
        x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    elif name == "moons":
        from sklearn.datasets import make_moons

        x, _ = make_moons(n_samples=n, noise=0.05, random_state=rng.integers(2**31))
        x = (x - np.array([0.5, 0.25])) * 2
    elif name == "swissroll":
        from sklearn.datasets import make_swiss_roll

        x, _ = make_swiss_roll(n_samples=n, noise=0.5, random_state=rng.integers(2**31))
        x = x[:, [0, 2]] / 4
    elif name == "checkerboard":
        # Four-by-four board on [-2, 2]^2, every other square filled (Grathwohl et al., 2019).
        col = rng.integers(0, 4, n)
        row = (rng.integers(0, 2, n) * 2 + col % 2)
        x = np.stack([col + rng.uniform(0, 1, n), row + rng.uniform(0, 1, n)], axis=1) - 2
    else:  # spirals: two interleaved arms
        t = np.sqrt(rng.uniform(0, 1, n)) * 3 * math.pi
        arm = rng.integers(0, 2, n) * 2 - 1
        x = np.stack([arm * t * np.cos(t), arm * t * np.sin(t)], axis=1) / 3 + 0.1 * rng.standard_normal((n, 2))
    return torch.from_numpy(x.astype(np.float32))
