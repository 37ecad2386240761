"""A diffusion or flow-matching model of small images (digits at 8x8), class-conditional with classifier-free
guidance (Ho & Salimans, 2022), on the generative-model protocol (dgm_core.generative).

The network is a small convolutional net: residual blocks whose features are scaled and shifted by an embedding
of the noise level and the class (FiLM; Perez et al., 2018), as the U-Nets of Ho et al. condition theirs. With
`scales` = 1 every block works at the image's own resolution (8x8 digits: six 3x3 convolutions already see the
whole image); with `scales` = S the blocks form a U-Net (Ronneberger et al., 2015; Ho et al., 2020) over S
resolutions, each halving the last and doubling the channels, so that a 28x28 digit is seen whole at 7x7. It predicts ε (kind "ddpm": the cosine schedule's 1,000 steps) or the velocity
(kind "flow": conditional flow matching). An image of L grey levels k ∈ {0, …, L − 1} is modelled, as RealNVP
models it, through its dequantization y = (k + u)/L, u ~ U[0, 1)^D, in x = 2y − 1: the model's density of x then
bounds the discrete probability, log P(k) ≥ E_u[log p_x(x)] + D log 2 − D log L (Theis et al., 2016), and a
sample is quantised back by k = ⌊L y⌋.

Classifier-free guidance: training replaces the label by a "no label" token with probability `label_dropout`,
so one network learns both the conditional and the unconditional prediction; sampling then uses
f̃ = (1 + w) f(x, c, y) − w f(x, c, ∅), w the guidance scale (w = 0: the conditional model itself).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.diffusion.flow_matching import conditional_path, couple, integrate
from dgm_core.diffusion.likelihood import cosine_ddpm_velocity, log_likelihood
from dgm_core.diffusion.samplers import sample as diffusion_sample
from dgm_core.diffusion.schedules import cosine_schedule, q_sample
from dgm_core.generative import (
    GenerativeModel,
    Interpolation,
    Likelihood,
    Quantisation,
    importance_weighted_bits,
    to_levels,
)
from dgm_core.hub import HubModel

KINDS = ("ddpm", "flow")
TRAIN_STEPS = 1000
#: Each kind's samplers, its default first: a DDPM samples by its ancestral chain or by DDIM (η = 0, the same
#: network), a flow by Euler's or Heun's method. DDPM and DDIM make at most TRAIN_STEPS model calls; Heun two
#: per step.
SAMPLERS = {"ddpm": ("DDPM ancestral", "DDIM"), "flow": ("Euler", "Heun")}


class FiLMBlock(nn.Module):
    """h + conv(σ(norm(conv(σ(norm(h))) · (1 + scale) + shift))), scale and shift from the embedding."""

    def __init__(self, width: int, embed: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, width), nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(embed, 2 * width)
        self.norm2, self.conv2 = nn.GroupNorm(8, width), nn.Conv2d(width, width, 3, padding=1)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(e)[:, :, None, None].chunk(2, dim=1)
        inner = self.conv1(F.silu(self.norm1(h)))
        inner = self.norm2(inner) * (1 + scale) + shift
        return h + self.conv2(F.silu(inner))


class NoiseLevelConvNet(nn.Module):
    """f(x, c, y): an image-to-image net conditioned on a scalar noise level c per image and a class y
    (`classes` is the "no label" token). `blocks` FiLM blocks at each of `scales` resolutions: going down, a
    stride-2 convolution halves the size and doubles the channels; coming up, the features are upsampled, joined
    with the ones of the same size on the way down (the U-Net's skip) and merged by a 1x1 convolution."""

    def __init__(self, channels: int = 1, width: int = 64, classes: int = 10, blocks: int = 4, embed: int = 128,
                 frequencies: int = 16, scales: int = 1):
        super().__init__()
        if scales < 1:
            raise ValueError(f"scales must be at least 1; got {scales}")
        self.register_buffer("frequencies", torch.exp(torch.linspace(0, math.log(1000.0), frequencies)))
        self.time = nn.Sequential(nn.Linear(2 * frequencies, embed), nn.SiLU(), nn.Linear(embed, embed))
        self.label = nn.Embedding(classes + 1, embed)
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        widths = [width * 2 ** level for level in range(scales)]
        # scales = 1 keeps the flat net's parameter names, so the 8x8 checkpoints load unchanged
        self.blocks = nn.ModuleList(FiLMBlock(widths[-1] if scales > 1 else width, embed) for _ in range(blocks))
        self.down_blocks = nn.ModuleList(nn.ModuleList(FiLMBlock(w, embed) for _ in range(blocks)) for w in widths[:-1])
        self.down = nn.ModuleList(nn.Conv2d(w, 2 * w, 3, stride=2, padding=1) for w in widths[:-1])
        self.up = nn.ModuleList(nn.Conv2d(2 * w, w, 3, padding=1) for w in widths[:-1])
        self.merge = nn.ModuleList(nn.Conv2d(2 * w, w, 1) for w in widths[:-1])
        self.up_blocks = nn.ModuleList(nn.ModuleList(FiLMBlock(w, embed) for _ in range(blocks)) for w in widths[:-1])
        self.norm, self.out = nn.GroupNorm(8, width), nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        angles = c.reshape(-1, 1).to(x.dtype) * self.frequencies
        e = self.time(torch.cat([torch.sin(angles), torch.cos(angles)], 1)) + self.label(labels)
        h = self.inp(x)
        skips = []
        for level_blocks, down in zip(self.down_blocks, self.down):
            for block in level_blocks:
                h = block(h, e)
            skips.append(h)
            h = down(h)
        for block in self.blocks:
            h = block(h, e)
        for level in reversed(range(len(skips))):
            skip = skips[level]
            h = self.up[level](F.interpolate(h, size=skip.shape[-2:], mode="nearest"))
            h = self.merge[level](torch.cat([h, skip], 1))
            for block in self.up_blocks[level]:
                h = block(h, e)
        return self.out(F.silu(self.norm(h)))


class DiffusionModel(HubModel, GenerativeModel):
    """DDPM (ε-prediction) or flow matching on images, class-conditional with classifier-free guidance."""
    model_type = "diffusion"

    def __init__(self, kind: str = "ddpm", image_size: int = 8, channels: int = 1, levels: int = 17, width: int = 32,
                 blocks: int = 2, classes: int = 10, label_dropout: float = 0.1, coupling: str = "independent",
                 sampler_calls: int = 100, scales: int = 1):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        if not 0.0 <= label_dropout < 1.0:
            raise ValueError(f"label_dropout must be in [0, 1); got {label_dropout:g}")
        self.kind, self.image_size, self.channels, self.levels = kind, image_size, channels, levels
        self.classes, self.label_dropout, self.coupling, self.sampler_calls = classes, label_dropout, coupling, sampler_calls
        self.net = NoiseLevelConvNet(channels, width, classes, blocks, scales=scales)
        self.schedule = cosine_schedule(TRAIN_STEPS)

    @property
    def pixels(self) -> int:
        return self.channels * self.image_size ** 2

    def dequantized(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x = 2 (k + u)/L − 1 for images in [0, 1] of L levels: the continuous data the model is trained on."""
        u = torch.rand(images.shape, generator=generator, device=images.device)
        return 2 * (to_levels(images, self.levels) + u) / self.levels - 1

    def quantised(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] of L levels from model space: k = ⌊L y⌋ with y = (x + 1)/2."""
        k = torch.floor((x + 1) / 2 * self.levels).clamp(0, self.levels - 1)
        return k / (self.levels - 1)

    # ------------------------------------------------------------------ the network as each kind reads it
    def predict(self, x: torch.Tensor, c: torch.Tensor, labels: torch.Tensor | None, guidance: float = 0.0) -> torch.Tensor:
        """f(x, c, y) with guidance w: (1 + w) f(x, c, y) − w f(x, c, ∅); unconditional when labels is None."""
        empty = torch.full((len(x),), self.classes, dtype=torch.long, device=x.device)
        if labels is None:
            return self.net(x, c, empty)
        conditional = self.net(x, c, labels)
        if guidance == 0:
            return conditional
        return (1 + guidance) * conditional - guidance * self.net(x, c, empty)

    # ------------------------------------------------------------------ training
    def training_loss(self, images: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
        """The kind's objective on a batch of images in [0, 1], per image summed over pixels; labels (if any) are
        dropped to the "no label" token with probability label_dropout."""
        x = self.dequantized(images, generator)
        device = x.device
        if labels is None:
            labels = torch.full((len(x),), self.classes, dtype=torch.long, device=device)
        else:
            drop = torch.rand(len(x), generator=generator, device=device) < self.label_dropout
            labels = torch.where(drop, torch.full_like(labels, self.classes), labels)
        if self.kind == "ddpm":
            t = torch.randint(TRAIN_STEPS, (len(x),), generator=generator, device=device)
            noise = torch.randn(x.shape, generator=generator, device=device)
            prediction = self.net(q_sample(self.schedule, x, t, noise), t.float() / TRAIN_STEPS, labels)
            return ((prediction - noise) ** 2).flatten(1).sum(1).mean()
        x0 = torch.randn(x.shape, generator=generator, device=device)
        t = torch.rand(len(x), generator=generator, device=device)
        x_t, u_t = conditional_path(couple(x0, x, self.coupling), x, t)
        return ((self.net(x_t, t, labels) - u_t) ** 2).flatten(1).sum(1).mean()

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The training loss of a batch (so that a DistributedDataParallel wrapper sees the forward pass)."""
        return self.training_loss(images, labels)

    # ------------------------------------------------------------------ the protocol
    def calls(self, sampler: str, budget: int) -> int:
        """The model calls `sampler` makes when given `budget` (twice as many with guidance: the conditional and
        the unconditional prediction)."""
        if sampler == "Heun":
            return 2 * max(1, budget // 2)
        return min(budget, TRAIN_STEPS) if sampler in ("DDPM ancestral", "DDIM") else budget

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None,
               guidance: float = 0.0, calls: int | None = None, sampler: str | None = None,
               unconditional: bool = False) -> torch.Tensor:
        """n images in [0, 1] with about `calls` model calls (sampler_calls by default; `calls()` says how many
        exactly) by `sampler` (the kind's first by default: DDPM ancestral, or Euler); class `labels` with
        guidance scale w. Without labels, a draw of the model's p(x) = Σ_y p(y) p(x | y): the classes in turn
        (the digits' classes are balanced; the cGAN samples the same way), with no guidance; with
        unconditional=True, the "no label" prediction instead (the branch guidance subtracts, trained on only
        label_dropout of the batches)."""
        if labels is None and not unconditional and self.classes > 0:
            labels, guidance = torch.arange(n) % self.classes, 0.0
        calls = self.sampler_calls if calls is None else calls
        sampler = SAMPLERS[self.kind][0] if sampler is None else sampler
        if sampler not in SAMPLERS[self.kind]:
            raise ValueError(f"a {self.kind} model samples by {' or '.join(SAMPLERS[self.kind])}, not {sampler}")
        device = next(self.parameters()).device
        noise = torch.randn(n, self.channels, self.image_size, self.image_size, generator=generator, device=device)
        if labels is not None:
            labels = labels.to(device)
        if self.kind == "ddpm":
            eps = lambda x, t: self.predict(x, t.float() / TRAIN_STEPS, labels, guidance)  # noqa: E731
            x = diffusion_sample(eps, self.schedule, noise, min(calls, TRAIN_STEPS),
                                 "ddpm" if sampler == "DDPM ancestral" else "ddim", generator=generator, clip=1.0)
        else:
            steps = max(1, calls // 2) if sampler == "Heun" else calls
            x = integrate(lambda x, t: self.predict(x, t, labels, guidance), noise, steps, sampler.lower())
        return self.quantised(x)

    def sampling_note(self) -> str:
        how = "DDPM's ancestral sampler" if self.kind == "ddpm" else "Euler's method on the learned velocity"
        return f"{how}, {self.sampler_calls} model calls from Gaussian noise, the classes 0–9 in turn, no guidance"

    # ------------------------------------------------------------------ the deterministic path: encode, decode
    def _deterministic_steps(self) -> list[int]:
        from dgm_core.diffusion.samplers import sampling_timesteps

        return sampling_timesteps(TRAIN_STEPS, min(self.sampler_calls, TRAIN_STEPS))

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The noise a deterministic sampler turns into these images: DDIM inversion (Song et al., 2021, §4.3),
        or the flow's ODE run backward from t = 1 to 0 (Euler), with the model's sampler calls, unconditional.
        Images in [0, 1] enter at their levels' centres, y = (k + ½)/L."""
        x = 2 * (to_levels(images, self.levels) + 0.5) / self.levels - 1
        if self.kind == "flow":
            h = 1.0 / self.sampler_calls
            for i in range(self.sampler_calls):
                t = torch.full((len(x),), 1.0 - i * h, device=x.device)
                x = x - h * self.predict(x, t, None)
            return x
        timesteps = list(reversed(self._deterministic_steps()))          # 0-ish up to 999
        for i, t in enumerate(timesteps):
            a_t = self.schedule.alpha_bar(timesteps[i - 1] if i else -1).float()
            a_next = self.schedule.alpha_bar(t).float()
            eps = self.predict(x, torch.full((len(x),), t / TRAIN_STEPS, device=x.device), None)
            x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1, 1)
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        return x

    @torch.no_grad()
    def decode(self, noise: torch.Tensor) -> torch.Tensor:
        """Images from noise by the deterministic sampler (DDIM with η = 0, or Euler), unconditional."""
        if self.kind == "flow":
            x = integrate(lambda x, t: self.predict(x, t, None), noise, self.sampler_calls, "euler")
        else:
            eps = lambda x, t: self.predict(x, t.float() / TRAIN_STEPS, None)  # noqa: E731
            x = diffusion_sample(eps, self.schedule, noise, min(self.sampler_calls, TRAIN_STEPS), "ddim", clip=1.0)
        return self.quantised(x)

    def interpolate(self, ends: torch.Tensor, points: int, generator: torch.Generator) -> Interpolation:
        """Images along the spherical interpolation (slerp) between the two ends' noises (encode), decoded: the
        noise is a Gaussian's draw, whose norm a straight line would shrink midway (Song et al., 2021, §5.3)."""
        z = self.encode(ends.to(next(self.parameters()).device))
        a, b = z[0].flatten(), z[1].flatten()
        angle = torch.arccos((a @ b / (a.norm() * b.norm())).clamp(-1, 1))
        weights = torch.linspace(0, 1, points, device=a.device)
        path = torch.stack([(torch.sin((1 - w) * angle) * a + torch.sin(w * angle) * b) / torch.sin(angle).clamp(min=1e-8)
                            for w in weights]).view(points, *z.shape[1:])
        return Interpolation(self.decode(path).cpu(), "the noises DDIM inversion (or the flow run backward) finds for "
                                                      "the two test digits, joined by slerp")

    # ------------------------------------------------------------------ likelihood
    #: RK4 steps of the likelihood's ODE: the flow's t ∈ [0, 1]; DDPM's log σ̄ from 1,000 down to the first
    #: step's (about 12 units of log σ̄, where the ODE is smooth). Doubling either moved digits' bits/dim
    #: by less than its standard error over the test digits (measured; see the lab's notes).
    LIKELIHOOD_STEPS = {"flow": 20, "ddpm": 30}
    #: Dequantization draws at most: each is an ODE solve with a backward pass per evaluation (120 for DDPM's
    #: 30 RK4 steps), where RealNVP's is one pass. Weighting them moves a bound by little, since the density is
    #: nearly flat across a level's width (the zero-velocity test measures the bound's gap).
    MAX_IMPORTANCE = 16
    #: σ̄ = √((1 − ᾱ)/ᾱ) where DDPM's ODE starts from N(0, I): there the data's trace, √ᾱ x ≈ 10⁻³ x, moves
    #: log p by about 10⁻³ nats per pixel (the test on Gaussian data measures it)
    SIGMA_MAX = 1000.0

    def likelihood_velocity(self):
        """The velocity whose ODE carries N(0, I) at t = 0 to the model's data at t = 1, unconditional: flow
        matching's learned one, or DDPM's probability flow (dgm_core.diffusion.likelihood.vp_velocity) from
        σ̄ = SIGMA_MAX down to the σ̄ of the first training step, with the network's time read off the
        continuous cosine schedule (the discrete index t is the continuous u = (t + 1)/T)."""
        if self.kind == "flow":
            return lambda x, t: self.predict(x, t, None)
        return cosine_ddpm_velocity(lambda x, c: self.predict(x, c, None), TRAIN_STEPS, self.SIGMA_MAX)

    def likelihood_of(self, images: torch.Tensor, generator: torch.Generator, importance: int) -> Likelihood:
        """Bits/dim on the images' L levels, from the ODE's density of the dequantized image (flow: the learned
        velocity; DDPM: its probability-flow ODE, whose density is that of the data at the first noise level,
        σ̄ ≈ 0.006, far below a level's width 2/L) with Hutchinson's divergence, importance-weighted over
        `importance` draws of the dequantization noise: log P(k) ≈ log (1/K) Σ_k p_x(x_k) 2^D / L^D."""
        device = next(self.parameters()).device
        velocity, steps = self.likelihood_velocity(), self.LIKELIHOOD_STEPS[self.kind]
        asked, importance = importance, min(importance, self.MAX_IMPORTANCE)
        draws = []
        for _ in range(importance):
            x = self.dequantized(images.to(device), generator)
            log_p = log_likelihood(velocity, x, steps=steps, method="hutchinson", generator=generator)
            draws.append((log_p + self.pixels * (math.log(2) - math.log(self.levels))).detach().cpu())
        bits = importance_weighted_bits(torch.stack(draws), self.pixels)
        ode = "the flow's ODE" if self.kind == "flow" else "the probability-flow ODE (in log σ̄)"
        return Likelihood(bits, Quantisation(self.image_size, self.levels),
                          f"{ode} (RK4, {steps} steps) with Hutchinson's divergence, one Rademacher probe per "
                          f"draw, importance-weighted over {importance} dequantization draws"
                          + (f" ({asked} asked; each draw is an ODE solve)" if asked > importance else "")
                          + ": an estimate of a bound")
