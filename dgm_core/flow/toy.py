"""The 2-D RealNVP trained live (dgm_core.live.LiveModel): its settings, the trainer that takes one Adam
step on the negative log-likelihood per step, and what its panels draw (log p on a grid, samples,
and the grid carried through every coupling from data to z and back)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dgm_core.flow.realnvp import VectorRealNVP
from dgm_core.live import PANEL_POINTS, WARP_POINTS, Field, LiveSession, LiveView

#: The settings the live flow accepts: (low, high) of each number (the lab offers these ranges).
RANGES = {"couplings": (2, 16), "hidden": (8, 256), "lr": (1e-5, 0.05), "batch_size": (16, 1024), "seed": (0, 10_000)}


@dataclass(frozen=True)
class ToyFlowConfig:
    dataset: object = "moons"        # a toy name or a student's OwnPoints
    couplings: int = 6
    hidden: int = 64
    lr: float = 2e-3
    batch_size: int = 256
    seed: int = 0

    def __post_init__(self):
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g}; got {value:g}.")


#: The live panel colours log p over this many nats below its peak (e^-10: 1/22,000 of the peak density).
DENSITY_WINDOW = 10.0


class ToyFlow:
    """A 2-D RealNVP trained live by maximum likelihood (dgm_core.live.LiveModel): each step draws a
    batch from a fixed pool of the data and takes one Adam step on the mean negative log-likelihood.
    Its metric is the average negative log-likelihood of 2,000 held-out points (nats per point)."""

    def __init__(self, config: ToyFlowConfig):
        from dgm_core.data import sample_toy

        self.config = c = config
        pool = sample_toy(c.dataset, 20_000, seed=c.seed)
        self.pool, self.held_out = pool[:18_000], pool[18_000:]
        self.rng = torch.Generator().manual_seed(c.seed)
        init = torch.Generator().manual_seed(c.seed + 1)
        with torch.random.fork_rng(devices=[]):   # initial weights from the seed, the global RNG untouched
            torch.manual_seed(int(torch.randint(2 ** 31, (1,), generator=init)))
            self.flow = VectorRealNVP(2, c.couplings, c.hidden, self.pool.mean(0), self.pool.std(0))
        self.optimizer = torch.optim.Adam(self.flow.parameters(), lr=c.lr)
        self.steps, self.history = 0, []
        extent = float(np.percentile(self.pool.abs().numpy(), 99.5))
        self.limit = max(1.5, math.ceil(extent * 1.15 * 2) / 2)

    def step(self) -> dict[str, float]:
        x = self.pool[torch.randint(len(self.pool), (self.config.batch_size,), generator=self.rng)]
        loss = -self.flow.log_prob(x).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps += 1
        record = {"step": self.steps, "nll": float(loss.detach())}
        self.history.append(record)
        return {"nll": record["nll"]}

    @torch.no_grad()
    def density_field(self, resolution: int = 70) -> tuple[np.ndarray, np.ndarray]:
        axis = np.linspace(-self.limit, self.limit, resolution, dtype=np.float32)
        gx, gy = np.meshgrid(axis, axis)
        points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))
        return axis, self.flow.log_prob(points).view(resolution, resolution).numpy()

    @torch.no_grad()
    def view(self, n_samples: int = PANEL_POINTS) -> LiveView:
        axis, log_density = self.density_field()
        # A flow puts almost no mass between the modes, where log p falls to −1000s: left as it is, that
        # tail takes the whole colour range. The colours cover the DENSITY_WINDOW nats below the peak.
        peak = float(log_density.max())
        background = Field(axis, np.maximum(log_density, peak - DENSITY_WINDOW),
                           f"log density (nats; {DENSITY_WINDOW:g} below the peak and less: one colour)",
                           zmin=peak - DENSITY_WINDOW, zmax=peak, colorscale="Blues")
        samples = self.flow.sample(n_samples, generator=torch.Generator().manual_seed(0)).numpy()
        return LiveView("RealNVP", self.steps, background, samples, points_label="samples x = f⁻¹(z)")

    @torch.no_grad()
    def metrics(self) -> dict:
        return {"held_out_nll": float(-self.flow.log_prob(self.held_out).mean())}

    def details(self) -> dict:
        """What the lab draws beside the panel (dgm_core.live): the layer-by-layer warp."""
        return {"warp": self.warp()}

    @torch.no_grad()
    def warp(self, lines: int = 11, points_per_line: int = 60) -> dict:
        """A grid in data space and its image after each layer (the layer-by-layer warp), and the
        same for a grid in latent space pushed back through f⁻¹, with points carried along: WARP_POINTS data
        points forward, as many draws of z ~ N(0, I) back. Returns {"forward": [stage arrays (lines·2, points,
        2)], "inverse": [...], "names": [...], "forward_points": [(WARP_POINTS, 2) per stage], "inverse_points": [...]}."""
        lim = self.limit
        ticks = np.linspace(-lim, lim, lines)
        along = np.linspace(-lim, lim, points_per_line)
        grid = np.concatenate([np.stack([np.full_like(along, t), along], -1)[None] for t in ticks] +
                              [np.stack([along, np.full_like(along, t)], -1)[None] for t in ticks]).astype(np.float32)
        flat = torch.from_numpy(grid.reshape(-1, 2))
        forward = [s.view(grid.shape).numpy() for s in self.flow.stages(flat)]
        z_ticks = np.linspace(-3, 3, lines)
        z_along = np.linspace(-3, 3, points_per_line)
        z_grid = np.concatenate([np.stack([np.full_like(z_along, t), z_along], -1)[None] for t in z_ticks] +
                                [np.stack([z_along, np.full_like(z_along, t)], -1)[None] for t in z_ticks]
                                ).astype(np.float32)
        h = torch.from_numpy(z_grid.reshape(-1, 2))
        inverse = [h.view(z_grid.shape).numpy()]
        for layer in reversed(self.flow.layers):
            h = layer.inverse(h)
            inverse.append(h.view(z_grid.shape).numpy())
        inverse[-1] = (h * self.flow.scale + self.flow.shift).view(z_grid.shape).numpy()
        names = ["standardised x"] + [f"after coupling {i + 1}" for i in range(len(self.flow.layers))]
        data = self.flow.stages(self.pool[:WARP_POINTS])
        z = torch.randn(WARP_POINTS, 2, generator=torch.Generator().manual_seed(0))
        pulled = [z]
        for layer in reversed(self.flow.layers):
            pulled.append(layer.inverse(pulled[-1]))
        pulled[-1] = pulled[-1] * self.flow.scale + self.flow.shift
        return {"forward": forward, "inverse": inverse, "names": names,
                "forward_points": [d.numpy() for d in data], "inverse_points": [p.numpy() for p in pulled]}



def live_session(config: ToyFlowConfig) -> LiveSession:
    """One 2-D RealNVP as a live session (dgm_core.live), its held-out NLL recorded after every advance."""
    model = ToyFlow(config)
    return LiveSession({"realnvp": model}, real=model.pool[:PANEL_POINTS].numpy(), step_unit="Adam steps")

