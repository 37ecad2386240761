"""Normalizing flows: RealNVP (Dinh, Sohl-Dickstein & Bengio, ICLR 2017), its likelihood on discrete
images, why that likelihood fails at out-of-distribution detection and two fixes, and the
Hutchinson trace estimator of residual flows (Behrmann et al., 2019; Chen et al., 2019).

Read top to bottom: the change of variables; the coupling layers and their masks; squeeze and
split; dequantization and the logit transform; the image RealNVP and its bits/dim; the 2-D RealNVP
that trains live; out-of-distribution scores (likelihood, input complexity, typicality) and AUROC;
the residual block and the estimators of its log-determinant.

A flow is an invertible map f from data x to a latent z with a simple density p_Z = N(0, I):

    log p_X(x) = log p_Z(f(x)) + log |det ∂f/∂x|,

and for a composition f = f_K ∘ … ∘ f_1 the log-determinants add. Every layer here returns its
output and its log |det| per example, so the total is counted layer by layer (and checked against
the autograd Jacobian in tests/test_flow.py).

Every stochastic function takes a `generator`; nothing here touches the global RNG.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.hub import HubModel
from dgm_core.live import PANEL_POINTS, WARP_POINTS, Field, LiveSession, LiveView

LOG_2PI = math.log(2 * math.pi)
LN2 = math.log(2)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over all but the first dimension, per example."""
    return (-0.5 * z.pow(2) - 0.5 * LOG_2PI).flatten(1).sum(1)


# ------------------------------------------------------------------------- coupling layers
def checkerboard_mask(height: int, width: int, invert: bool = False) -> torch.Tensor:
    """(1, 1, H, W) with 1 where (i + j) is even: the pixels a checkerboard coupling leaves unchanged."""
    i, j = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    mask = ((i + j) % 2 == 0).float()
    return (1 - mask if invert else mask).view(1, 1, height, width)


def channel_mask(channels: int, invert: bool = False) -> torch.Tensor:
    """(1, C, 1, 1) with 1 on the first half of the channels."""
    mask = (torch.arange(channels) < channels // 2).float()
    return (1 - mask if invert else mask).view(1, channels, 1, 1)


def vector_mask(dim: int, invert: bool = False) -> torch.Tensor:
    """(1, d) with 1 on the first half of the coordinates (for the 2-D flow and the flow prior)."""
    mask = (torch.arange(dim) < (dim + 1) // 2).float()
    return (1 - mask if invert else mask).view(1, dim)


class AffineCoupling(nn.Module):
    """The affine coupling layer of RealNVP (Dinh et al., 2017, eq. 4–9), with a binary mask b:

        y = b ⊙ x + (1 − b) ⊙ (x ⊙ exp(s(b ⊙ x)) + t(b ⊙ x)),   log |det ∂y/∂x| = Σ (1 − b) ⊙ s.

    s and t come from one network that sees only the unchanged part b ⊙ x (and a condition, where
    there is one), so the inverse x = b ⊙ y + (1 − b) ⊙ (y − t) ⊙ exp(−s) needs no inversion of
    the network. The scale is bounded, s = a · tanh(ŝ / a) with a learned a > 0 per channel, so one
    large output cannot blow up exp(s); and the network's last layer starts at zero, so the layer
    starts as the identity and a deep flow trains from a well-conditioned start."""

    def __init__(self, mask: torch.Tensor, net: nn.Module, scale_shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = net
        self.log_scale_bound = nn.Parameter(torch.zeros(scale_shape))
        last = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def _scale_shift(self, x: torch.Tensor, condition: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        kept = x * self.mask
        inputs = kept if condition is None else torch.cat([kept, condition], dim=1)
        raw_s, t = self.net(inputs).chunk(2, dim=1)
        bound = self.log_scale_bound.exp()
        s = bound * torch.tanh(raw_s / bound)
        return s * (1 - self.mask), t * (1 - self.mask)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._scale_shift(x, condition)
        return x * s.exp() + t, s.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        s, t = self._scale_shift(y, condition)      # y ⊙ b = x ⊙ b: the network sees the same input
        return (y - t) * (-s).exp()


class ConvNet(nn.Module):
    """The coupling network of the image flow: a 3x3 convolution, `blocks` residual blocks of two 3x3
    convolutions, and a 3x3 convolution to 2·C outputs (s and t). No batch normalisation: its
    statistics differ between training and evaluation, a known cause of exploding test bits/dim;
    the residual blocks need none at this depth."""

    def __init__(self, c_in: int, c_out: int, width: int, blocks: int):
        super().__init__()
        self.first = nn.Conv2d(c_in, width, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                                  nn.Conv2d(width, width, 3, padding=1)) for _ in range(blocks))
        self.last = nn.Sequential(nn.ReLU(), nn.Conv2d(width, 2 * c_out, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        for block in self.blocks:
            h = h + block(h)
        return self.last(h)


def mlp(d_in: int, d_out: int, hidden: int, layers: int = 2) -> nn.Sequential:
    """The coupling network of the vector flows: `layers` hidden ReLU layers of width `hidden`."""
    widths = [d_in] + [hidden] * layers
    parts: list[nn.Module] = []
    for a, b in zip(widths, widths[1:]):
        parts += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*parts, nn.Linear(widths[-1], 2 * d_out))


# ---------------------------------------------------------------------- squeeze and split
def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, 4C, H/2, W/2): each 2x2 block of pixels becomes four channels (Dinh et al.,
    2017, fig. 3). A permutation, so its log-determinant is 0."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    x = x.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c // 4, 2 * h, 2 * w)


# ---------------------------------------------------------- dequantization and the logit
def to_levels(images: torch.Tensor, levels: int) -> torch.Tensor:
    """Images in [0, 1] with `levels` grey levels → integers 0 … levels − 1 (as floats)."""
    return torch.round(images.clamp(0, 1) * (levels - 1))


def logit_transform(y: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """w = logit(α + (1 − 2α) y) for y ∈ (0, 1) (Dinh et al., 2017, §4.1), with
    log |dw/dy| = Σ log(1 − 2α) − log p − log(1 − p),  p = α + (1 − 2α) y. The flow models w ∈ R^D."""
    p = alpha + (1 - 2 * alpha) * y
    w = torch.log(p) - torch.log1p(-p)
    logdet = (math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
    return w, logdet


def inverse_logit_transform(w: torch.Tensor, alpha: float) -> torch.Tensor:
    return (torch.sigmoid(w) - alpha) / (1 - 2 * alpha)


class VariationalDequantizer(nn.Module):
    """q(u | x) for variational dequantization (Ho et al., Flow++, ICML 2019, §3.1): ε ~ N(0, I) is
    moved by affine couplings that see the image, then squashed, u = σ(h) ∈ (0, 1)^D, so

        log q(u | x) = log N(ε) − Σ log |det coupling| − Σ log σ'(h).

    The bound it enters, log P(x) ≥ E_q[log p((x + u)/L) − log q(u | x)] − D log L, is tight when q
    matches the model's density inside each bin; uniform u (log q = 0) is the special case."""

    def __init__(self, channels: int, size: int, width: int, couplings: int = 2):
        super().__init__()
        self.layers = nn.ModuleList(
            AffineCoupling(checkerboard_mask(size, size, invert=i % 2 == 1), ConvNet(2 * channels, channels, width, 1),
                           (1, channels, 1, 1)) for i in range(couplings))

    def forward(self, x_levels: torch.Tensor, levels: int, generator: torch.Generator | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """u (B, C, H, W) in (0, 1) and log q(u | x) per example."""
        condition = x_levels / (levels - 1) - 0.5
        eps = torch.randn(x_levels.shape, generator=generator, device=x_levels.device)
        h, log_q = eps, standard_normal_log_prob(eps)
        for layer in self.layers:
            h, logdet = layer(h, condition)
            log_q = log_q - logdet
        u = torch.sigmoid(h)
        log_q = log_q - (F.logsigmoid(h) + F.logsigmoid(-h)).flatten(1).sum(1)   # σ'(h) = σ(h)σ(−h)
        return u, log_q


# ---------------------------------------------------------------------- the image RealNVP
class RealNVP(HubModel):
    """Multi-scale RealNVP on images with `levels` grey levels (Dinh et al., 2017, §3.6):

        for each scale but the last: 3 checkerboard couplings, squeeze, 3 channel couplings,
        then half the channels leave as latents (split); the last scale: 4 checkerboard couplings.

    The masks alternate so every pixel is transformed. With `scales` = 2 on 8x8 digits:
    1x8x8 → (couplings) → 4x4x4 → (couplings) → 2x4x4 out, 2x4x4 → (couplings) → out: 64 latents.

    Its density is over the discrete image: the integer levels k are dequantized, y = (k + u)/L,
    mapped to w = logit(α + (1 − 2α) y), and the flow models w. Every Jacobian is counted:

        log P(k) ≥ E_u[ log p_Z(f(w)) + log|det ∂f/∂w| + log|dw/dy| − log q(u|k) ] − D log L,

    and bits/dim = −log P(k) · log₂ e / D, comparable with published figures for the same L."""

    model_type = "realnvp"

    def __init__(self, image_size: int = 8, channels: int = 1, levels: int = 17, width: int = 64, blocks: int = 2,
                 scales: int = 2, dequantization: str = "uniform", alpha: float = 0.05):
        super().__init__()
        if dequantization not in ("uniform", "variational"):
            raise ValueError(f"dequantization must be 'uniform' or 'variational'; got {dequantization!r}")
        if scales < 1 or image_size % (2 ** (scales - 1)):
            raise ValueError(f"image_size {image_size} must be divisible by 2^(scales − 1) = {2 ** (scales - 1)}")
        if not 2 <= levels <= 256:
            raise ValueError(f"levels must be between 2 and 256; got {levels}")
        self.image_size, self.channels, self.levels = image_size, channels, levels
        self.scales, self.alpha, self.dequantization = scales, alpha, dequantization
        self.stages = nn.ModuleList()
        c, s = channels, image_size
        for scale in range(scales):
            last = scale == scales - 1
            layers = [AffineCoupling(checkerboard_mask(s, s, invert=i % 2 == 1), ConvNet(c, c, width, blocks),
                                     (1, c, 1, 1)) for i in range(4 if last else 3)]
            if not last:
                layers += [AffineCoupling(channel_mask(4 * c, invert=i % 2 == 1), ConvNet(4 * c, 4 * c, width, blocks),
                                          (1, 4 * c, 1, 1)) for i in range(3)]
                c, s = 2 * c, s // 2
            self.stages.append(nn.ModuleList(layers))
        self.dequantizer = (VariationalDequantizer(channels, image_size, width // 2)
                            if dequantization == "variational" else None)

    @property
    def pixels(self) -> int:
        return self.channels * self.image_size * self.image_size

    # -- the bijection w ↔ z, with its log-determinant
    def flow_forward(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, D) and log |det ∂z/∂w| per example."""
        logdet = torch.zeros(len(w), device=w.device)
        latents, h = [], w
        for scale, layers in enumerate(self.stages):
            last = scale == len(self.stages) - 1
            for i, layer in enumerate(layers):
                if not last and i == 3:
                    h = squeeze(h)
                h, ld = layer(h)
                logdet = logdet + ld
            if last:
                latents.append(h.flatten(1))
            else:
                out, h = h.chunk(2, dim=1)
                latents.append(out.flatten(1))
        return torch.cat(latents, dim=1), logdet

    def flow_inverse(self, z: torch.Tensor) -> torch.Tensor:
        shapes, c, s = [], self.channels, self.image_size
        for scale in range(self.scales):
            if scale < self.scales - 1:
                c, s = 4 * c, s // 2
                shapes.append((c // 2, s, s))
                c = c // 2
            else:
                shapes.append((c, s, s))
        sizes = [math.prod(shape) for shape in shapes]
        pieces = [p.view(len(z), *shape) for p, shape in zip(z.split(sizes, dim=1), shapes)]
        h = pieces[-1]
        for scale in reversed(range(self.scales)):
            layers = self.stages[scale]
            last = scale == self.scales - 1
            if not last:
                h = torch.cat([pieces[scale], h], dim=1)
            for i in reversed(range(len(layers))):
                h = layers[i].inverse(h)
                if not last and i == 3:
                    h = unsqueeze(h)
        return h

    # -- the density of discrete images
    def log_prob(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A lower bound on log P(k) in nats per image, for images in [0, 1] with `levels` levels
        (one draw of the dequantization noise u; see the class docstring)."""
        k = to_levels(images, self.levels)
        if self.dequantizer is None:
            u = torch.rand(k.shape, generator=generator, device=k.device)
            log_q = torch.zeros(len(k), device=k.device)
        else:
            u, log_q = self.dequantizer(k, self.levels, generator)
        y = (k + u) / self.levels
        w, logdet_logit = logit_transform(y, self.alpha)
        z, logdet_flow = self.flow_forward(w)
        return (standard_normal_log_prob(z) + logdet_flow + logdet_logit - log_q
                - self.pixels * math.log(self.levels))

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.log_prob(images, generator)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images in [0, 1] with `levels` levels: z ~ N(0, T² I), w = f⁻¹(z), y = logit⁻¹(w), k = ⌊L y⌋.
        A temperature T < 1 draws from nearer the mode (Kingma & Dhariwal, 2018, §5)."""
        device = next(self.parameters()).device
        return self.decode(temperature * torch.randn(n, self.pixels, generator=generator, device=device))

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The latent z = f(w) of each image, taken at the middle of its dequantization bin
        (u = ½, y = (k + ½)/L), so an image has one latent point: (B, D)."""
        y = (to_levels(images, self.levels) + 0.5) / self.levels
        return self.flow_forward(logit_transform(y, self.alpha)[0])[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] with `levels` levels from latents: w = f⁻¹(z), y = logit⁻¹(w), k = ⌊L y⌋."""
        y = inverse_logit_transform(self.flow_inverse(z), self.alpha)
        k = torch.floor(y * self.levels).clamp(0, self.levels - 1)
        return k / (self.levels - 1)


def bits_per_dim(log_prob_nats: torch.Tensor | float, dims: int):
    """−log P · log₂ e / D."""
    return -log_prob_nats / (dims * LN2)


@torch.no_grad()
def image_bits_per_dim(model: RealNVP, images: torch.Tensor, generator: torch.Generator | None = None,
                       batch: int = 500) -> torch.Tensor:
    """Bits/dim of each image (a lower bound's value, one dequantization draw each), in batches."""
    device = next(model.parameters()).device
    out = [bits_per_dim(model.log_prob(images[i:i + batch].to(device), generator), model.pixels).cpu()
           for i in range(0, len(images), batch)]
    return torch.cat(out) if out else torch.empty(0)


def training_loss(model: nn.Module, images: torch.Tensor, pixels: int) -> tuple[torch.Tensor, dict]:
    """Mean bits/dim of a batch: the negative log-likelihood, scaled so the figure is the one reported."""
    bpd = bits_per_dim(model(images).float(), pixels).mean()
    return bpd, {"bits_per_dim": bpd.detach()}


# ------------------------------------------------------------------ the 2-D RealNVP, live
class VectorRealNVP(nn.Module):
    """RealNVP on R^d with alternating half masks and MLP coupling networks, after a fixed
    standardisation x ↦ (x − m)/s (its log-determinant −Σ log s counted too). Used live on the
    2-D toys and as the learned prior of the flow-prior VAE (dgm_core/vae_flow_prior.py)."""

    def __init__(self, dim: int = 2, couplings: int = 6, hidden: int = 64, shift=None, scale=None):
        super().__init__()
        self.dim = dim
        self.register_buffer("shift", torch.as_tensor(shift if shift is not None else np.zeros(dim), dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale if scale is not None else np.ones(dim), dtype=torch.float32))
        self.layers = nn.ModuleList(AffineCoupling(vector_mask(dim, invert=i % 2 == 1), mlp(dim, dim, hidden), (1, dim))
                                    for i in range(couplings))

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x after the standardisation and after each coupling: the last is z."""
        h = (x - self.shift) / self.scale
        out = [h]
        for layer in self.layers:
            h, _ = layer(h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z and log |det ∂z/∂x| per example."""
        h = (x - self.shift) / self.scale
        logdet = -torch.log(self.scale).sum().expand(len(x))
        for layer in self.layers:
            h, ld = layer(h)
            logdet = logdet + ld
        return h, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z * self.scale + self.shift

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, logdet = self(x)
        return standard_normal_log_prob(z) + logdet

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        device = self.shift.device
        return self.inverse(temperature * torch.randn(n, self.dim, generator=generator, device=device))


#: The live 2-D flow's settings: (low, high) of each number the page and the Space accept.
LIVE_RANGES = {"couplings": (2, 16), "hidden": (8, 256), "lr": (1e-5, 0.05), "batch_size": (16, 1024), "seed": (0, 10_000)}


@dataclass(frozen=True)
class ToyFlowConfig:
    dataset: object = "moons"        # a toy name or a student's OwnPoints
    couplings: int = 6
    hidden: int = 64
    lr: float = 2e-3
    batch_size: int = 256
    seed: int = 0

    def __post_init__(self):
        for name, (low, high) in LIVE_RANGES.items():
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


def describe_settings(config: ToyFlowConfig) -> str:
    from dgm_core.data.points import OwnPoints, describe

    data = describe(config.dataset) if isinstance(config.dataset, OwnPoints) else config.dataset
    return (f"{data} · {config.couplings} couplings, MLPs of width {config.hidden} · Adam lr {config.lr:g}, "
            f"batch {config.batch_size} · seed {config.seed}")


def live_session(config: ToyFlowConfig) -> LiveSession:
    """One 2-D RealNVP as a live session (dgm_core.live), its held-out NLL recorded after every advance."""
    model = ToyFlow(config)
    return LiveSession({"realnvp": model}, real=model.pool[:PANEL_POINTS].numpy(), step_unit="Adam steps")


def gmm_baseline_bits_per_dim(train_images: torch.Tensor, test_images: torch.Tensor, levels: int,
                              components: int = 5, covariance: str = "full", seed: int = 0) -> float:
    """The test bits/dim of scikit-learn's GaussianMixture fitted to the same uniformly dequantized
    data y = (k + u)/L, counted the same way as the flow's: −(log p(y) − D log L) · log₂ e / D.
    (Its density leaks outside [0, 1]^D, which only lowers its likelihood: the bound stays valid.)"""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    def dequantize(x: torch.Tensor) -> np.ndarray:
        k = to_levels(x, levels).flatten(1).numpy()
        return (k + rng.random(k.shape)) / levels

    dims = train_images[0].numel()
    gmm = GaussianMixture(components, covariance_type=covariance, reg_covar=1e-4, random_state=seed)
    gmm.fit(dequantize(train_images))
    log_p = gmm.score_samples(dequantize(test_images)) - dims * math.log(levels)
    return float(-log_p.mean() / (dims * LN2))


# ------------------------------------------------------- out-of-distribution detection
def png_bits(images: torch.Tensor, levels: int) -> np.ndarray:
    """L(x): the length in bits of each image saved as an 8-bit greyscale PNG (Pillow, best compression)."""
    import io

    from PIL import Image

    k = (to_levels(images, levels) * (255 // (levels - 1))).to(torch.uint8).cpu().numpy()
    lengths = []
    for image in k:
        buffer = io.BytesIO()
        Image.fromarray(image.reshape(image.shape[-2:]) if image.shape[0] == 1 else image.transpose(1, 2, 0)).save(
            buffer, format="PNG", optimize=True)
        lengths.append(8 * buffer.tell())
    return np.asarray(lengths, dtype=np.float64)


def zlib_bits(images: torch.Tensor, levels: int) -> np.ndarray:
    """L(x): the length in bits of each image's levels (one byte each) compressed by zlib at level 9."""
    k = to_levels(images, levels).to(torch.uint8).cpu().numpy()
    return np.asarray([8 * len(zlib.compress(image.tobytes(), 9)) for image in k], dtype=np.float64)


def complexity_score(bits_per_dim_values: np.ndarray, compressed_bits: np.ndarray, dims: int) -> np.ndarray:
    """The input-complexity score of Serrà et al. (ICLR 2020), per dimension:

        S(x) = −log₂ p(x) − L(x),

    the model's code length minus a generic compressor's. A simple image is short for both, so its
    high likelihood is discounted; larger S means more out of distribution."""
    return np.asarray(bits_per_dim_values) - np.asarray(compressed_bits) / dims


def auroc(in_scores, out_scores) -> float:
    """Area under the ROC curve with the out-of-distribution set as the positive class and a larger
    score meaning "more out of distribution": P(s_out > s_in) + ½ P(s_out = s_in), the Mann–Whitney
    statistic over average ranks (ties counted half)."""
    a, b = np.asarray(in_scores, dtype=np.float64), np.asarray(out_scores, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("AUROC needs at least one in-distribution and one out-of-distribution score")
    scores = np.concatenate([a, b])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):            # average ranks over runs of equal scores
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start:end + 1]] = 0.5 * (start + end) + 1
        start = end + 1
    rank_sum_out = ranks[len(a):].sum()
    return float((rank_sum_out - len(b) * (len(b) + 1) / 2) / (len(a) * len(b)))


def typicality_scores(values: np.ndarray, entropy_estimate: float, batch: int,
                      generator: np.random.Generator) -> np.ndarray:
    """The typicality test of Nalisnick et al. (2019, §3): for batches of M inputs, the statistic
    |mean over the batch of −log₂ p(x)/D − Ĥ|, with Ĥ the training data's mean bits/dim (an estimate
    of the entropy rate). Typical batches sit near Ĥ, whether they are more or less likely than it;
    larger means less typical. The values are shuffled and cut into as many whole batches as fit."""
    values = np.asarray(values, dtype=np.float64)
    usable = (len(values) // batch) * batch
    if usable == 0:
        raise ValueError(f"a batch of {batch} needs at least {batch} images; got {len(values)}")
    shuffled = values[generator.permutation(len(values))[:usable]].reshape(-1, batch)
    return np.abs(shuffled.mean(1) - entropy_estimate)


def ood_images(model_dataset: str, size: int, levels: int, n: int, seed: int = 0,
               root=None) -> dict[str, torch.Tensor]:
    """The out-of-distribution sets for a model of `model_dataset` at size x size with `levels`
    levels, n images each, all brought to that size and quantised to those levels: the other
    built-in set (shapes for a digits model, digits for a shapes model), inverted test images of the
    model's own set, uniform noise over the levels, constant images (one random level each), and
    MNIST / FashionMNIST where their files are on disk (under `root`, default the lab's data folder;
    nothing is downloaded for this)."""
    from dgm_core.data import DatasetError, load_dataset

    rng = torch.Generator().manual_seed(seed)
    quantise = lambda x: to_levels(x, levels) / (levels - 1)  # noqa: E731
    own = load_dataset(model_dataset, "test", image_size=size).images[:n]
    other = "shapes" if model_dataset != "shapes" else "digits"
    sets = {other: quantise(load_dataset(other, "test", image_size=size).images[:n]),
            f"inverted {model_dataset}": quantise(1 - own),
            "uniform noise": torch.randint(levels, (n, 1, size, size), generator=rng).float() / (levels - 1),
            "constant images": (torch.randint(levels, (n, 1, 1, 1), generator=rng).float() / (levels - 1)
                                ).expand(n, 1, size, size).clone()}
    for name in ("mnist", "fashion-mnist"):
        if name == model_dataset:
            continue
        try:
            real = load_dataset(name, "test", image_size=size, root=root, download=False)
        except (DatasetError, TypeError):
            continue
        sets[name] = quantise(torch.stack([real[i][0] for i in range(min(n, len(real)))]))
    return sets


@dataclass
class OODReport:
    """Per-image bits/dim and complexity scores of the in-distribution test set and each OOD set, and
    the AUROC of each score (OOD positive, larger score = more OOD)."""
    bits_per_dim: dict[str, np.ndarray]
    complexity: dict[str, np.ndarray]
    typicality: dict[str, np.ndarray]
    in_name: str
    typicality_batch: int
    table: list[dict] = field(default_factory=list)


@torch.no_grad()
def ood_report(model: RealNVP, in_images: torch.Tensor, train_images: torch.Tensor, ood: dict[str, torch.Tensor],
               in_name: str, typicality_batch: int = 10, seed: int = 0) -> OODReport:
    """Scores every set with the model's bits/dim, the input-complexity score S(x) (PNG lengths) and
    the batch typicality test, and builds one AUROC table: one row per OOD set, a column per score."""
    generator = torch.Generator(next(model.parameters()).device).manual_seed(seed)
    sets = {in_name: in_images, **ood}
    bpd = {name: image_bits_per_dim(model, images, generator).numpy() for name, images in sets.items()}
    complexity = {name: complexity_score(bpd[name], png_bits(images, model.levels), model.pixels)
                  for name, images in sets.items()}
    entropy = float(image_bits_per_dim(model, train_images, generator).mean())
    typical = {name: typicality_scores(bpd[name], entropy, typicality_batch, np.random.default_rng(seed))
               for name in sets}
    table = []
    for name in ood:
        table.append({"OOD set": name,
                      "mean bits/dim (in → OOD)": f"{bpd[in_name].mean():.2f} → {bpd[name].mean():.2f}",
                      "more likely than the median test image": float(np.mean(bpd[name] < np.median(bpd[in_name]))),
                      "AUROC bits/dim": auroc(bpd[in_name], bpd[name]),
                      "AUROC complexity S(x)": auroc(complexity[in_name], complexity[name]),
                      "AUROC typicality": auroc(typical[in_name], typical[name])})
    return OODReport(bpd, complexity, typical, in_name, typicality_batch, table)


def ood_findings(report: OODReport) -> list[str]:
    """What the AUROC table shows, in sentences both front ends print: where likelihood ranks OOD images
    as more likely than the test data (the failure Nalisnick et al., 2019 report), and where a fix
    does worse than chance."""
    findings = []
    likelier = [(r["OOD set"], r["more likely than the median test image"], r["AUROC bits/dim"]) for r in report.table
                if r["more likely than the median test image"] > 0]
    if likelier:
        listed = "; ".join(f"{share:.1%} of {name} (AUROC {a:.3f})" for name, share, a in likelier)
        worst = min(a for _, _, a in likelier)
        severity = ("Likelihood fails here" if worst < 0.5 else
                    "Likelihood mostly works here, but shows the failure the literature reports" if worst >= 0.9 else
                    "Likelihood is a weak detector here")
        findings.append(f"{severity}: {listed} get a higher likelihood than the median test image of "
                        f"{report.in_name}.")
    for column, label in (("AUROC complexity S(x)", "The complexity score S(x)"),
                          ("AUROC typicality", f"The typicality test (batches of {report.typicality_batch})")):
        worse = [(r["OOD set"], r[column]) for r in report.table if r[column] < 0.5]
        if worse:
            listed = ", ".join(f"{name} (AUROC {a:.3f})" for name, a in worse)
            findings.append(f"{label} does worse than chance on {listed}" + (
                ": it subtracts the compressed length, which helps when OOD images are simpler than the training "
                "data and hurts when they are more complex." if "S(x)" in label else "."))
    return findings


# ------------------------------------------------- residual flows: the log-determinant
class ResidualBlock(nn.Module):
    """g(x) = c · Wᵀ φ(W x + b) / ‖W‖₂², φ = ELU (1-Lipschitz, φ' ∈ (0, 1]), so Lip(g) ≤ c < 1 and
    x ↦ x + g(x) is invertible (Behrmann et al., 2019, §2). W is divided by its exact spectral norm
    (an SVD, not power iteration: the playground's blocks are small, and the bound must hold for the
    series to converge). The tied weights make J_g = c Wᵀ diag(φ') W / ‖W‖₂² symmetric with
    eigenvalues in [0, c], so the set c is nearly attained and the series' slow convergence as
    c → 1 shows plainly."""

    def __init__(self, dim: int, lipschitz: float, hidden: int | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        if not 0 < lipschitz < 1:
            raise ValueError(f"the Lipschitz constant must lie in (0, 1) for the series to converge; got {lipschitz}")
        hidden = hidden or dim
        self.lipschitz = lipschitz
        self.weight = nn.Parameter(torch.randn(hidden, dim, generator=generator))
        self.bias = nn.Parameter(0.5 + 0.1 * torch.randn(hidden, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight / torch.linalg.matrix_norm(self.weight, 2)
        return self.lipschitz * F.elu(x @ w.T + self.bias) @ w


def exact_logdet(block: ResidualBlock, x: torch.Tensor) -> float:
    """log det(I + J_g(x)) from the autograd Jacobian of g at one point x (d,)."""
    jacobian = torch.autograd.functional.jacobian(block, x)
    sign, logabs = torch.linalg.slogdet(torch.eye(len(x), dtype=jacobian.dtype) + jacobian)
    return float(logabs)


def _vjp_powers(block: ResidualBlock, x: torch.Tensor, v: torch.Tensor, terms: int) -> torch.Tensor:
    """(terms, P): vᵀ J^k v for k = 1 … terms, for P probe vectors v (P, d) at the point x, each power
    by one more vector–Jacobian product (the Jacobian itself is never formed)."""
    xs = x.expand(len(v), -1).detach().requires_grad_(True)
    out = block(xs)
    w, products = v, []
    for _ in range(terms):
        (w,) = torch.autograd.grad(out, xs, grad_outputs=w, retain_graph=True)   # wᵀ J (rows are independent)
        products.append((w * v).sum(1))
    return torch.stack(products)


def probes(kind: str, count: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """Hutchinson probes with E[v vᵀ] = I: Gaussian N(0, I) or Rademacher (±1, each with ½)."""
    if kind == "gaussian":
        return torch.randn(count, dim, generator=generator)
    if kind == "rademacher":
        return torch.randint(0, 2, (count, dim), generator=generator).float() * 2 - 1
    raise ValueError(f"probe kind must be 'gaussian' or 'rademacher'; got {kind!r}")


def power_series_logdet(block: ResidualBlock, x: torch.Tensor, terms: int, n_probes: int, kind: str,
                        generator: torch.Generator, draws: int = 1) -> torch.Tensor:
    """`draws` independent estimates of log det(I + J) = Σ_{k≥1} (−1)^{k+1} tr(J^k)/k (valid for
    Lip(g) < 1), truncated at `terms` terms, each trace by Hutchinson's estimator tr(A) ≈ mean of
    vᵀ A v over `n_probes` probes (Behrmann et al., 2019, §3.2). The truncation biases it."""
    v = probes(kind, draws * n_probes, len(x), generator)
    powers = _vjp_powers(block, x, v, terms)                                   # (terms, draws·probes)
    k = torch.arange(1, terms + 1, dtype=powers.dtype).unsqueeze(1)
    series = ((-1) ** (k + 1) / k * powers).sum(0)
    return series.view(draws, n_probes).mean(1).detach()


def russian_roulette_logdet(block: ResidualBlock, x: torch.Tensor, p_stop: float, n_probes: int, kind: str,
                            generator: torch.Generator, draws: int = 1, max_terms: int = 200) -> torch.Tensor:
    """The unbiased Russian-roulette estimator of Residual Flows (Chen et al., 2019, Thm. 1): draw the
    number of terms N ~ Geometric(p) (P(N ≥ k) = (1 − p)^{k−1}) and reweight each term by 1/P(N ≥ k),

        log det(I + J) = E_{N, v}[ Σ_{k=1}^{N} (−1)^{k+1} vᵀ J^k v / (k · P(N ≥ k)) ].

    N is capped at `max_terms`: P(N > 200) = (1 − p)^200, under 4·10⁻⁵ for the playground's p ≥ 0.05."""
    v = probes(kind, draws * n_probes, len(x), generator)
    return _roulette_terms(block, x, p_stop, v, draws, generator, max_terms).view(draws, n_probes).mean(1).float()


def _roulette_terms(block: ResidualBlock, x: torch.Tensor, p_stop: float, v: torch.Tensor, draws: int,
                    generator: torch.Generator, max_terms: int = 200) -> torch.Tensor:
    """One Russian-roulette estimate per probe of v (draws · probes rows), the probes of one draw sharing
    its number of terms N (as `russian_roulette_logdet` does)."""
    n_terms = _geometric(draws, p_stop, generator, max_terms)
    powers = _vjp_powers(block, x, v, int(n_terms.max())).double()
    k = torch.arange(1, powers.shape[0] + 1, dtype=powers.dtype).unsqueeze(1)
    used = (k <= n_terms.repeat_interleave(len(v) // draws).unsqueeze(0)).to(powers.dtype)
    return ((-1) ** (k + 1) / (k * (1 - p_stop) ** (k - 1)) * powers * used).sum(0)


def _geometric(count: int, p: float, generator: torch.Generator, cap: int) -> torch.Tensor:
    """N ≥ 1 with P(N = n) = (1 − p)^{n−1} p, by inversion of a uniform draw from `generator`."""
    u = torch.rand(count, generator=generator, dtype=torch.float64).clamp_min(1e-300)
    n = torch.floor(torch.log(u) / math.log(1 - p)).long() + 1
    return n.clamp(1, cap)


def truncated_series(block: ResidualBlock, x: torch.Tensor, terms: int) -> float:
    """Σ_{k=1}^{n} (−1)^{k+1} tr(J^k)/k with the traces taken exactly from the autograd Jacobian: the
    expectation of the truncated estimator, so exact − this is its bias (no Monte Carlo noise)."""
    jac = torch.autograd.functional.jacobian(block, x).double()
    power, total = torch.eye(len(x), dtype=torch.float64), 0.0
    for k in range(1, terms + 1):
        power = power @ jac
        total += (-1) ** (k + 1) * float(torch.trace(power)) / k
    return total


#: The playground's settings: (low, high) of each number the page and the Space accept.
HUTCHINSON_RANGES = {"dim": (2, 64), "lipschitz": (0.05, 0.99), "draws": (20, 2000), "p_stop": (0.05, 0.95),
                     "seed": (0, 10_000)}
HUTCHINSON_TERMS = [1, 2, 4, 8, 16, 32]
HUTCHINSON_PROBES = [1, 2, 4, 8, 16]


@dataclass
class HutchinsonStudy:
    exact: float
    jacobian_norm: float       # ‖J_g(x)‖₂ at the point: at most the Lipschitz bound c
    rows: list[dict]           # one per (estimator, probe kind, terms, probes): bias, variance, mean, standard error
    #                            ("terms n" is None for the roulette: its number of terms is drawn, N ~ Geometric(p))


def hutchinson_study(dim: int, lipschitz: float, terms: list[int], probe_counts: list[int], draws: int = 200,
                     p_stop: float = 0.5, seed: int = 0) -> HutchinsonStudy:
    """Bias and variance of the truncated power-series estimator as the number of terms n and probes
    m change, for Gaussian and Rademacher probes, beside the Russian-roulette estimator, on a random
    residual block of dimension `dim` and Lipschitz constant `lipschitz` at a random point x. The
    truncated estimator's bias is exact (`truncated_series`); the roulette's is zero by construction;
    variances, means and standard errors are over `draws` independent estimates."""
    generator = torch.Generator().manual_seed(seed)
    block = ResidualBlock(dim, lipschitz, generator=generator)
    x = torch.randn(dim, generator=generator)
    exact = exact_logdet(block, x)
    norm = float(torch.linalg.matrix_norm(torch.autograd.functional.jacobian(block, x), 2))
    biases = {n: truncated_series(block, x, n) - exact for n in terms}
    rows, most = [], max(probe_counts)
    # One set of draws × max(m) probes per kind serves every (n, m): the estimate with m probes averages
    # the first m of its draw's probes, and truncating at n keeps the first n terms of the same powers.
    # Each row is still `draws` independent estimates; rows differ only in n or m, not in noise.
    for kind in ("gaussian", "rademacher"):
        v = probes(kind, draws * most, dim, generator)
        powers = _vjp_powers(block, x, v, max(terms)).double()              # (max n, draws·max m)
        k = torch.arange(1, powers.shape[0] + 1, dtype=powers.dtype).unsqueeze(1)
        partial = torch.cumsum((-1) ** (k + 1) / k * powers, dim=0).view(-1, draws, most)
        for m in probe_counts:
            for n in terms:
                rows.append(_row("truncated series", kind, n, m, partial[n - 1, :, :m].mean(1), biases[n]))
        roulette = _roulette_terms(block, x, p_stop, probes(kind, draws * most, dim, generator), draws, generator)
        for m in probe_counts:
            rows.append(_row("Russian roulette", kind, None, m, roulette.view(draws, most)[:, :m].mean(1), 0.0))
    return HutchinsonStudy(exact, norm, rows)


def hutchinson_table(study: HutchinsonStudy) -> list[dict]:
    """The study's rows as the front ends show them: the roulette's number of terms named, not None."""
    return [{**row, "terms n": "N ~ Geometric(p)" if row["terms n"] is None else str(row["terms n"])}
            for row in study.rows]


def roulette_variance_note(study: HutchinsonStudy, p_stop: float) -> str:
    """When the Russian-roulette estimator has finite variance: its k-th term is about ρ^k/k reweighted by
    1/(1 − p)^{k−1} (ρ = ‖J‖₂), so its second moment sums (ρ² / (1 − p))^k: finite only if ρ² < 1 − p."""
    rho = study.jacobian_norm
    if rho ** 2 < 1 - p_stop:
        return (f"With ρ = ‖J‖₂ = {rho:.3f} and p = {p_stop:g}, ρ²/(1 − p) = {rho ** 2 / (1 - p_stop):.2f} < 1: the "
                "roulette estimate has finite variance.")
    return (f"With ρ = ‖J‖₂ = {rho:.3f} and p = {p_stop:g}, ρ²/(1 − p) = {rho ** 2 / (1 - p_stop):.2f} ≥ 1: the roulette "
            f"estimate is unbiased (its exact bias is 0) but its variance is infinite, so its sample mean and "
            f"standard error below cannot be trusted (rare long draws dominate); take p < {1 - rho ** 2:.2f}.")


def _row(estimator: str, kind: str, terms, m: int, estimates: torch.Tensor, bias: float) -> dict:
    mean, var = float(estimates.mean()), float(estimates.var())
    return {"estimator": estimator, "probes": kind, "terms n": terms, "probe vectors m": m, "bias": bias,
            "variance": var, "mean": mean, "standard error": math.sqrt(var / len(estimates))}
