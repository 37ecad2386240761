"""DDPM, score matching and flow matching trained live on 2-D data, side by side (dgm_core.live.LiveModel).

Each model is the same small network, an MLP on (x, an embedding of its noise level), trained one Adam step
at a time on its own objective, from the same data and seed:

    ddpm      ε-prediction on the cosine schedule (Ho et al., 2020; Nichol & Dhariwal, 2021); samples by DDPM
    score     σ-weighted denoising score matching on a geometric ladder of σ, the output divided by σ (Song &
              Ermon, 2019; 2020); samples by annealed Langevin dynamics
    flow      conditional flow matching, independent coupling (Lipman et al., 2023); samples by Euler's method
    flow-ot   the same with minibatch OT coupling (Tong et al., 2024)

A panel draws the model's samples (with the number of sampler steps set), the field it learned at a chosen
time as arrows (the score ∇ log p_t, or the velocity), and, on a Gaussian-mixture toy, the noised data's true
log-density at that time behind them. The metric is the energy distance (dgm_core.metrics.energy_distance)
between 1,000 samples and 1,000 held-out points: no kernel to choose, zero only for the data's law.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dgm_core.diffusion.flow_matching import flow_matching_loss, integrate
from dgm_core.diffusion.samplers import sample as diffusion_sample
from dgm_core.diffusion.schedules import cosine_schedule, q_sample
from dgm_core.diffusion.score_matching import annealed_langevin, dsm_loss, noise_levels, toy_mixture
from dgm_core.live import PANEL_POINTS, Field, LiveSession, LiveView

KINDS = ("ddpm", "score", "flow", "flow-ot")
NAMES = {"ddpm": "DDPM", "score": "Score matching", "flow": "Flow matching", "flow-ot": "Flow matching, OT coupling"}
#: Each kind's samplers, its own first (the panel's): DDPM's model also samples by DDIM (η = 0), a flow by Heun.
SAMPLERS = {"ddpm": ("DDPM ancestral", "DDIM"), "score": ("annealed Langevin",), "flow": ("Euler", "Heun"),
            "flow-ot": ("Euler", "Heun")}
#: The sampler whose paths a panel draws: deterministic where the kind has one (DDIM is DDPM's probability-flow
#: ODE, so its paths can be measured for straightness); score matching's Langevin paths are a noisy walk.
PATH_SAMPLERS = {"ddpm": "DDIM", "score": "annealed Langevin", "flow": "Euler", "flow-ot": "Euler"}
#: The settings the live models accept: (low, high) of each number.
RANGES = {"hidden": (16, 512), "lr": (1e-5, 0.05), "batch_size": (16, 2048), "sampler_steps": (1, 1000),
          "seed": (0, 10_000)}
#: The DDPM's schedule: 1,000 steps, cosine.
TRAIN_STEPS = 1000
#: Score matching's ladder: 10 levels from 3 (about the toys' spread, Song & Ermon 2020's first technique) to 0.05,
#: and Langevin's step size at the smallest level.
SIGMA_MAX, SIGMA_MIN, LEVELS, LANGEVIN_EPSILON = 3.0, 0.05, 10, 2e-4
#: Points behind the energy distance, of the samples and of the held-out data, and the steps between two
#: measurements of it while training live.
METRIC_POINTS, METRIC_EVERY = 1000, 100
#: The times at which a panel can show the learned field (0: the data, 1: the most noise trained with).
FIELD_TIMES = tuple(i / 10 for i in range(11))
#: Sample paths drawn from noise to data on each panel, and the states kept of each.
TRAJECTORIES, PATH_POINTS = 30, 60


_COSINE = cosine_schedule(TRAIN_STEPS)


def signal_and_noise(kind: str, time: float) -> tuple[float, float]:
    """(a, s) with x_time = a x_0 + s ε, ε ~ N(0, I), for the forward process `kind` reads at `time` ∈ [0, 1]
    (0: the data, 1: the most noise it trains with): DDPM's cosine schedule at step round(time (T − 1)),
    a = √ᾱ, s = √(1 − ᾱ) (variance preserving); score matching's σ ladder at that fraction in log σ, a = 1,
    s = σ (variance exploding); flow matching's straight path at flow time 1 − time, a = 1 − time, s = time."""
    if not 0.0 <= time <= 1.0:
        raise ValueError(f"time must be between 0 and 1; got {time:g}")
    if kind == "ddpm":
        a = float(_COSINE.alpha_bar(min(int(round(time * (TRAIN_STEPS - 1))), TRAIN_STEPS - 1)))
        return math.sqrt(a), math.sqrt(1 - a)
    if kind == "score":
        return 1.0, SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** time
    if kind in ("flow", "flow-ot"):
        return 1.0 - time, time
    raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")


def ladder_time(time: float) -> float:
    """The time of score matching's σ level nearest `time`: its ladder is geometric, so level k of LEVELS sits at
    time k/(LEVELS − 1), and it is trained at those σ only (between them its network was never asked)."""
    return round(time * (LEVELS - 1)) / (LEVELS - 1)


def noised_points(kind: str, points: torch.Tensor, time: float, generator: torch.Generator) -> torch.Tensor:
    """The data noised to `time` by the forward process of `kind`: a x_0 + s ε (signal_and_noise)."""
    a, s = signal_and_noise(kind, time)
    return a * points + s * torch.randn(points.shape, generator=generator, dtype=points.dtype)


@dataclass(frozen=True)
class ToyDiffusionConfig:
    kind: str = "ddpm"
    dataset: object = "8gaussians"     # a toy name or a student's OwnPoints
    hidden: int = 128
    lr: float = 2e-3
    batch_size: int = 256
    sampler_steps: int = 50           # model calls of the panel's sampler
    seed: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}.")
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g}; got {value:g}.")


class NoiseLevelMLP(nn.Module):
    """f(x, c): an MLP on x and a sinusoidal embedding of one scalar per point (the time or log σ)."""

    def __init__(self, dim: int = 2, hidden: int = 128, frequencies: int = 8):
        super().__init__()
        self.register_buffer("frequencies", torch.exp(torch.linspace(0, math.log(100.0), frequencies)))
        self.net = nn.Sequential(nn.Linear(dim + 2 * frequencies, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        angles = c.reshape(-1, 1).to(x.dtype) * self.frequencies
        return self.net(torch.cat([x, torch.sin(angles), torch.cos(angles)], 1))


class ToyDiffusion:
    """One model of KINDS trained live on 2-D points: one Adam step on its objective per step."""

    def __init__(self, config: ToyDiffusionConfig):
        from dgm_core.data import sample_toy

        self.config = c = config
        pool = sample_toy(c.dataset, 20_000, seed=c.seed)
        self.pool, self.held_out = pool[:18_000], pool[18_000:18_000 + METRIC_POINTS]
        self.rng = torch.Generator().manual_seed(c.seed)
        init = torch.Generator().manual_seed(c.seed + 1)
        with torch.random.fork_rng(devices=[]):   # initial weights from the seed, the global RNG untouched
            torch.manual_seed(int(torch.randint(2 ** 31, (1,), generator=init)))
            self.net = NoiseLevelMLP(2, c.hidden)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=c.lr)
        self.schedule = cosine_schedule(TRAIN_STEPS)
        self.sigmas = noise_levels(SIGMA_MAX, SIGMA_MIN, LEVELS)
        self.mixture = toy_mixture(c.dataset) if isinstance(c.dataset, str) else None
        self.steps, self.history = 0, []
        self._backgrounds, self._drawn_at, self._measured_at = {}, None, None
        extent = float(np.percentile(self.pool.abs().numpy(), 99.5))
        self.limit = max(1.5, math.ceil(extent * 1.15 * 2) / 2)

    # ------------------------------------------------------------------ the model as each family reads it
    def eps(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """DDPM's ε̂(x_t, t) at integer timesteps."""
        return self.net(x, t.to(x.dtype) / TRAIN_STEPS)

    def score(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Score matching's s(x, σ) = f(x, log σ) / σ (Song & Ermon, 2020, technique 3)."""
        sigma = sigma.to(x.dtype)
        return self.net(x, sigma.log()) / sigma.reshape(-1, 1)

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Flow matching's v(x, t), t ∈ [0, 1] from noise to data."""
        return self.net(x, t)

    # ------------------------------------------------------------------ training
    def loss(self, x: torch.Tensor) -> torch.Tensor:
        kind = self.config.kind
        if kind == "ddpm":
            t = torch.randint(TRAIN_STEPS, (len(x),), generator=self.rng)
            noise = torch.randn(x.shape, generator=self.rng)
            return ((self.eps(q_sample(self.schedule, x, t, noise), t) - noise) ** 2).sum(1).mean()
        if kind == "score":
            return dsm_loss(self.score, x, self.sigmas, self.rng)
        return flow_matching_loss(self.velocity, x, self.rng, "ot" if kind == "flow-ot" else "independent")

    def step(self) -> dict[str, float]:
        x = self.pool[torch.randint(len(self.pool), (self.config.batch_size,), generator=self.rng)]
        loss = self.loss(x)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps += 1
        record = {"step": self.steps, "loss": float(loss.detach())}
        self.history.append(record)
        return {"loss": record["loss"]}

    # ------------------------------------------------------------------ sampling
    def calls(self, sampler: str, budget: int) -> int:
        """The model calls `sampler` makes when given `budget`: Heun takes two per step, annealed Langevin a
        whole number of steps per level and one last denoising call, DDPM and DDIM at most the schedule's."""
        if sampler == "Heun":
            return 2 * max(1, budget // 2)
        if sampler == "annealed Langevin":
            return LEVELS * max(1, budget // LEVELS) + 1
        return min(budget, TRAIN_STEPS) if sampler in ("DDPM ancestral", "DDIM") else budget

    @torch.no_grad()
    def sample(self, n: int, budget: int | None = None, generator: torch.Generator | None = None,
               sampler: str | None = None, trajectory: bool = False):
        """n samples by `sampler` (the kind's own by default) with about `budget` model calls (the config's
        sampler steps by default; `calls` says how many exactly). With trajectory=True, every x on the way."""
        budget = self.config.sampler_steps if budget is None else budget
        sampler = SAMPLERS[self.config.kind][0] if sampler is None else sampler
        if sampler not in SAMPLERS[self.config.kind]:
            raise ValueError(f"{NAMES[self.config.kind]} samples by {' or '.join(SAMPLERS[self.config.kind])}, "
                             f"not {sampler}")
        noise = torch.randn(n, 2, generator=generator)
        if sampler in ("DDPM ancestral", "DDIM"):
            return diffusion_sample(self.eps, self.schedule, noise, min(budget, TRAIN_STEPS),
                                    "ddpm" if sampler == "DDPM ancestral" else "ddim", generator=generator,
                                    trajectory=trajectory, clip=self.limit)   # x̂_0 within the panel's square
        if sampler == "annealed Langevin":
            x, _ = annealed_langevin(self.score, noise * float(self.sigmas[0]), self.sigmas, max(1, budget // LEVELS),
                                     LANGEVIN_EPSILON, generator, trajectory=trajectory)
            return x
        if sampler == "Heun":
            return integrate(self.velocity, noise, max(1, budget // 2), "heun", trajectory=trajectory)
        return integrate(self.velocity, noise, budget, "euler", trajectory=trajectory)

    # ------------------------------------------------------------------ what a panel draws
    def field_at(self, points: torch.Tensor, time: float) -> torch.Tensor:
        """The learned field at `time` ∈ [0, 1] (0: the data's end, as a student reads the slider): the score
        for DDPM (−ε̂/√(1 − ᾱ)) and score matching (at the nearest σ of its ladder, the only ones it trains at), the velocity for
        flow matching (at flow time 1 − time, so that 0 is the data there too)."""
        n = len(points)
        kind = self.config.kind
        if kind == "ddpm":
            t = torch.full((n,), min(int(round(time * (TRAIN_STEPS - 1))), TRAIN_STEPS - 1))
            return -self.eps(points, t) / (1 - self.schedule.alpha_bar(t)).sqrt().reshape(-1, 1).float()
        if kind == "score":
            return self.score(points, torch.full((n,), SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** ladder_time(time)))
        return self.velocity(points, torch.full((n,), 1.0 - time))

    def noised_mixture(self, time: float):
        """The toy's law at `time` where it is a Gaussian mixture (closed form), else None."""
        if self.mixture is None:
            return None
        kind = self.config.kind
        return self.mixture.noised(*signal_and_noise(kind, ladder_time(time) if kind == "score" else time))

    def _background(self, time: float, resolution: int = 60) -> Field | None:
        """The noised data's true log density at `time` (a Gaussian-mixture toy), computed once per time: it does
        not change with training."""
        if time not in self._backgrounds:
            law = self.noised_mixture(time)
            if law is None:
                self._backgrounds[time] = None
            else:
                axis = np.linspace(-self.limit, self.limit, resolution, dtype=np.float32)
                gx, gy = np.meshgrid(axis, axis)
                grid = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1)).double()
                log_p = law.log_prob(grid).view(resolution, resolution).numpy()
                self._backgrounds[time] = Field(axis, np.maximum(log_p, log_p.max() - 10),
                                                "true log density of the noised data (nats)", zmin=float(log_p.max() - 10),
                                                zmax=float(log_p.max()), colorscale="Blues")
        return self._backgrounds[time]

    def _arrows(self, time: float, arrows: int = 15) -> tuple[np.ndarray, np.ndarray]:
        ticks = np.linspace(-self.limit, self.limit, arrows, dtype=np.float32)
        ax, ay = np.meshgrid(ticks, ticks)
        starts = torch.from_numpy(np.stack([ax.ravel(), ay.ravel()], 1))
        return starts.numpy(), self.field_at(starts, time).numpy()

    def field_label(self, time: float) -> str:
        if self.config.kind == "score":
            level = ladder_time(time)
            return f"score ∇ log p at σ = {SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** level:.3g} (time {level:.2f})"
        return f"{'score ∇ log p' if self.config.kind == 'ddpm' else 'velocity v'} at time {time:.2f}"

    @torch.no_grad()
    def _drawn(self) -> dict:
        """What the panel and its details draw at this step, computed once per step (a snapshot asks for the view
        and the details in turn, several times a second): the samples of the kind's own sampler, TRAJECTORIES
        paths of PATH_SAMPLERS' sampler (the same run where it is the own one), and the field at FIELD_TIMES."""
        if self._drawn_at is not None and self._drawn_at[0] == self.steps:
            return self._drawn_at[1]
        own, path_sampler = SAMPLERS[self.config.kind][0], PATH_SAMPLERS[self.config.kind]
        run = self.sample(PANEL_POINTS, generator=torch.Generator().manual_seed(0), trajectory=path_sampler == own)
        if path_sampler == own:
            samples, path = run[-1], [x[:TRAJECTORIES] for x in run]
        else:
            samples = run
            path = self.sample(TRAJECTORIES, generator=torch.Generator().manual_seed(2), sampler=path_sampler,
                               trajectory=True)
        drawn = {"samples": samples.numpy(), "path": path, "path_sampler": path_sampler,
                 "fields": {t: (self._arrows(t), self._background(t), self.field_label(t)) for t in FIELD_TIMES}}
        self._drawn_at = (self.steps, drawn)
        return drawn

    @torch.no_grad()
    def view(self, time: float = 0.0) -> LiveView:
        """Samples of the kind's own sampler, the learned field at `time` as arrows, and (on a Gaussian-mixture
        toy) the noised data's true log density at that time behind them."""
        drawn = self._drawn()
        own = SAMPLERS[self.config.kind][0]
        arrows, background, label = drawn["fields"].get(time) or (self._arrows(time), self._background(time),
                                                                  self.field_label(time))
        return LiveView(NAMES[self.config.kind], self.steps, background, drawn["samples"],
                        points_label=f"samples ({own}, {self.calls(own, self.config.sampler_steps)} model calls)",
                        arrows=arrows, arrows_label=label)

    @torch.no_grad()
    def details(self) -> dict:
        """What the lab draws beside the panel, at this step: the learned field and the true noised density at
        each of FIELD_TIMES (the page's time slider picks one), and TRAJECTORIES paths from noise to data (at most
        PATH_POINTS states each) with their length over end-to-end distance: median and quartiles."""
        from dgm_core.diffusion.flow_matching import straightness

        drawn = self._drawn()
        path = drawn["path"]
        keep = np.unique(np.linspace(0, len(path) - 1, min(len(path), PATH_POINTS)).round().astype(int))
        paths = torch.stack([path[i] for i in keep], 1).numpy()            # (paths, states, 2)
        noisy = drawn["path_sampler"] in ("annealed Langevin", "DDPM ancestral")   # a noisy walk has no length to compare
        ratio = None if noisy else straightness(path)
        quartiles = None if ratio is None else torch.quantile(ratio.double(), torch.tensor([0.5, 0.25, 0.75], dtype=torch.float64))
        return {"fields": drawn["fields"], "paths": paths, "path_sampler": drawn["path_sampler"],
                "straightness": None if quartiles is None else tuple(float(q) for q in quartiles)}

    def log_likelihood(self, points: torch.Tensor, steps: int = 20) -> torch.Tensor | None:
        """log p(x) in nats per point through the ODE with the exact divergence (two backward passes in 2-D):
        flow matching's learned velocity, or DDPM's probability flow (cosine_ddpm_velocity); None for score
        matching, whose ten σ levels define no continuous-time ODE here."""
        from dgm_core.diffusion.likelihood import cosine_ddpm_velocity, log_likelihood

        if self.config.kind == "score":
            return None
        velocity = (cosine_ddpm_velocity(lambda x, c: self.net(x, c), TRAIN_STEPS) if self.config.kind == "ddpm"
                    else self.velocity)
        return log_likelihood(velocity, points, steps=steps, method="exact").detach()

    @torch.no_grad()
    def metrics(self) -> dict | None:
        """The energy distance to held-out data, at step 0 and then once every METRIC_EVERY steps (it costs a
        sampler run of METRIC_POINTS: at every refresh it took more time than the training)."""
        from dgm_core.metrics import energy_distance

        if self._measured_at is not None and self.steps - self._measured_at < METRIC_EVERY:
            return None
        self._measured_at = self.steps
        samples = self.sample(METRIC_POINTS, generator=torch.Generator().manual_seed(1))
        return {"energy_distance": energy_distance(samples.numpy(), self.held_out.numpy())}


def live_session(configs: dict[str, ToyDiffusionConfig]) -> LiveSession:
    """The chosen kinds trained side by side on the same data, step for step (dgm_core.live)."""
    models = {name: ToyDiffusion(config) for name, config in configs.items()}
    first = next(iter(models.values()))
    return LiveSession(models, real=first.pool[:PANEL_POINTS].numpy(), step_unit="Adam steps")
