"""RealNVP (Dinh, Sohl-Dickstein & Bengio, ICLR 2017): the coupling layers and their masks, squeeze and
split, dequantization and the logit transform, the image RealNVP with its bits/dim, and the 2-D
RealNVP (the live lab's flow, and the VAE's flow prior).

A flow is an invertible map f from data x to a latent z with a simple density p_Z = N(0, I):

    log p_X(x) = log p_Z(f(x)) + log |det ∂f/∂x|,

and for a composition f = f_K ∘ … ∘ f_1 the log-determinants add. Every layer here returns its
output and its log |det| per example, so the total is counted layer by layer (and checked against
the autograd Jacobian in tests/test_flow.py).

Every stochastic function takes a `generator`; nothing here touches the global RNG.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.generative import (
    GenerativeModel,
    Interpolation,
    Likelihood,
    Quantisation,
    importance_weighted_bits,
    to_levels,
)
from dgm_core.hub import HubModel

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
class RealNVP(HubModel, GenerativeModel):
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
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
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

    # -- the generative-model protocol (dgm_core.generative)
    def sampling_note(self) -> str:
        return "z ~ N(0, I), then the inverse flow"

    @torch.no_grad()
    def interpolate(self, ends: torch.Tensor, points: int, generator: torch.Generator) -> Interpolation:
        z = self.encode(ends)
        path = torch.stack([torch.lerp(z[0], z[1], t) for t in torch.linspace(0, 1, points).tolist()])
        return Interpolation(self.decode(path), "the flow's latents f(x) of two test digits")

    @torch.no_grad()
    def likelihood_of(self, images: torch.Tensor, generator: torch.Generator, importance: int) -> Likelihood:
        """log P(k) importance-weighted over K = `importance` draws of the dequantization noise u per image."""
        draws = torch.stack([self.log_prob(images, generator) for _ in range(importance)])
        kind = "variational" if self.dequantization == "variational" else "uniform"
        return Likelihood(importance_weighted_bits(draws, self.pixels), Quantisation(self.image_size, self.levels),
                          f"the exact density of the dequantised image (change of variables), {kind} dequantisation, "
                          f"importance-weighted over K = {importance} draws of u per image, log P(x) ≥ log (1/K) Σ "
                          "p(x + u_k) / q(u_k | x): a lower bound on log P(x)")

    def sampling_modules(self) -> list[nn.Module]:
        """The flow's stages; the variational dequantizer is used only to score."""
        return [self.stages]


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


