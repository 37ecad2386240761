"""VQ-VAE: a discrete latent by vector quantisation (van den Oord, Vinyals & Kavukcuoglu, 2017).

An encoder maps x to a grid of vectors z_e(x) ∈ R^D; each is replaced by its nearest code of a
codebook e_1 … e_K,

    k(i) = argmin_k ‖z_e,i − e_k‖²,        z_q,i = e_k(i),

and a decoder reconstructs x from z_q. The argmin has no gradient, so the decoder's gradient with
respect to z_q is copied to z_e (the straight-through estimator, z_q = z_e + sg[e − z_e]). The loss is

    ‖x − x̂‖²  +  ‖sg[z_e] − e‖²  +  β ‖z_e − sg[e]‖²,      β = 0.25,

the codebook term moving the codes towards the encoder outputs assigned to them, the commitment term
keeping the encoder near its codes. The alternative to the codebook term (paper, appendix A.1) is an
exponential moving average of each code's assigned vectors:

    N_k ← γ N_k + (1 − γ) n_k,     m_k ← γ m_k + (1 − γ) Σ_{i: k(i)=k} z_e,i,     e_k = m_k / N_k,

with N_k Laplace-smoothed so an unused code is not divided by zero.

Codebook health: the usage of each code, its perplexity exp(−Σ p_k log p_k) (K when every code is
used equally, 1 when one code takes everything) and the dead codes (never chosen). Dead codes are
restarted from encoder outputs of the current batch (Dhariwal et al., 2020, "Jukebox"; Zeghidour et
al., 2021), and the usage counters are buffers of the quantiser, so they travel with the weights and
resume exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.generative import GenerativeModel, Interpolation, Likelihood
from dgm_core.hub import HubModel


# --------------------------------------------------------------------------- the quantiser
@dataclass
class Quantized:
    """What the quantiser returns for a batch of encoder outputs z_e (B, D, H, W)."""
    quantized: torch.Tensor        # z_q with the straight-through gradient, (B, D, H, W)
    indices: torch.Tensor          # the chosen code of each position, (B, H, W)
    loss: torch.Tensor             # codebook term (0 with EMA) + β · commitment
    commitment: torch.Tensor       # ‖z_e − sg[e]‖², mean over positions and dimensions
    perplexity: torch.Tensor       # of this batch's code usage


class VectorQuantizer(nn.Module):
    """Nearest-code quantisation with the straight-through estimator; the codebook learns by its loss
    term or, with `ema`, by moving averages (module docstring). `usage` counts how often each code was
    chosen in training since the last `restart_dead_codes` (a buffer: saved and resumed with the model)."""

    def __init__(self, num_codes: int = 64, dim: int = 16, beta: float = 0.25, ema: bool = False,
                 decay: float = 0.99, eps: float = 1e-5):
        super().__init__()
        self.num_codes, self.dim, self.beta, self.ema, self.decay, self.eps = num_codes, dim, beta, ema, decay, eps
        init = torch.empty(num_codes, dim).uniform_(-1 / num_codes, 1 / num_codes)
        if ema:
            self.register_buffer("codebook", init)
            self.register_buffer("cluster_size", torch.zeros(num_codes))
            self.register_buffer("code_sum", init.clone())
        else:
            self.codebook = nn.Parameter(init)
        self.register_buffer("usage", torch.zeros(num_codes))

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """argmin_k ‖z − e_k‖² for each row z of `flat` (N, D), as ‖z‖² − 2 z·e_k + ‖e_k‖²: one matrix
        product instead of an (N, K, D) difference."""
        distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t()
                     + self.codebook.pow(2).sum(1)[None, :])
        return distances.argmin(1)

    def forward(self, z_e: torch.Tensor) -> Quantized:
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        with torch.no_grad():
            indices = self.nearest(flat)
        counts = torch.bincount(indices, minlength=self.num_codes).float()
        if self.training:
            self.usage += counts
            if self.ema:
                self.ema_update(flat.detach(), indices)
        codes = self.codebook[indices]
        commitment = F.mse_loss(flat, codes.detach())
        codebook_term = torch.zeros((), device=z_e.device) if self.ema else F.mse_loss(codes, flat.detach())
        quantized = flat + (codes - flat).detach()
        quantized = quantized.view(b, h, w, d).permute(0, 3, 1, 2)
        return Quantized(quantized, indices.view(b, h, w), codebook_term + self.beta * commitment, commitment,
                         perplexity(counts))

    @torch.no_grad()
    def ema_update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        """N_k ← γN_k + (1−γ)n_k, m_k ← γm_k + (1−γ)Σz, e_k = m_k / Ñ_k with Ñ Laplace-smoothed."""
        onehot = F.one_hot(indices, self.num_codes).type(flat.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.code_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.num_codes * self.eps) * total
        self.codebook.copy_(self.code_sum / smoothed[:, None])

    @torch.no_grad()
    def restart_dead_codes(self, z_e: torch.Tensor, threshold: float = 1.0,
                           generator: torch.Generator | None = None) -> int:
        """Codes chosen fewer than `threshold` times since the last call move to encoder outputs of
        this batch, drawn at random (their EMA statistics restart there too); the usage counters then
        start again. Returns how many codes were restarted."""
        dead = (self.usage < threshold).nonzero().flatten()
        if len(dead):
            flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, self.dim)
            pick = torch.randint(len(flat), (len(dead),), generator=generator).to(flat.device)
            self.codebook.data[dead] = flat[pick]
            if self.ema:
                self.cluster_size[dead] = 1.0
                self.code_sum[dead] = flat[pick]
        self.usage.zero_()
        return len(dead)


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(−Σ p_k log p_k) of code counts: the number of equally used codes with the same entropy."""
    p = counts / counts.sum().clamp_min(1)
    return torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())


def codebook_health(counts: torch.Tensor) -> dict[str, float]:
    """Perplexity, dead codes (count 0) and their share, of code counts over some data."""
    dead = int((counts == 0).sum())
    return {"perplexity": float(perplexity(counts)), "dead_codes": dead, "dead_share": dead / len(counts)}


# --------------------------------------------------------------------------- the model
class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.block = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(width, width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class VQVAE(HubModel, GenerativeModel):
    """Encoder → VectorQuantizer → decoder, after the paper's image model (strided convolutions and
    residual blocks). Each halving of the side is one stride-2 convolution: `downsamples` 1 turns
    digits' 8x8 into a 4x4 grid of codes, 2 turns 28x28 into 7x7. The decoder's output is linear, as in
    the paper, and scored by squared error; what is shown (`forward`, `decode`) is clipped to the data's
    [0, 1]. A sigmoid output failed on MNIST: with 80 % black pixels Adam drives every logit towards −∞,
    the sigmoid saturates and no gradient reaches the white strokes (every reconstruction went black)."""

    model_type = "vqvae"

    def __init__(self, image_size: int = 8, channels: int = 1, width: int = 32, num_codes: int = 64,
                 code_dim: int = 16, downsamples: int = 1, beta: float = 0.25, ema: bool = False,
                 decay: float = 0.99):
        super().__init__()
        if image_size % (2 ** downsamples):
            raise ValueError(f"image_size {image_size} is not divisible by 2^{downsamples}")
        self.image_size, self.channels, self.downsamples = image_size, channels, downsamples
        self.num_codes, self.code_dim = num_codes, code_dim
        self.latent_size = image_size // 2 ** downsamples
        down = [nn.Conv2d(channels, width, 3, padding=1)]
        for _ in range(downsamples):
            down += [nn.ReLU(), nn.Conv2d(width, width, 4, stride=2, padding=1)]
        self.encoder = nn.Sequential(*down, ResBlock(width), ResBlock(width), nn.ReLU(), nn.Conv2d(width, code_dim, 1))
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta=beta, ema=ema, decay=decay)
        up = [nn.Conv2d(code_dim, width, 3, padding=1), ResBlock(width), ResBlock(width)]
        for _ in range(downsamples):
            up += [nn.ReLU(), nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)]
        self.decoder = nn.Sequential(*up, nn.ReLU(), nn.Conv2d(width, channels, 3, padding=1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z_e(x): (B, D, h, h)."""
        return self.encoder(x)

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Pixel means from quantised latents, clipped to [0, 1] (the loss sees them unclipped)."""
        return self.decoder(z_q).clamp(0, 1)

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Images from a grid of code indices (B, h, h)."""
        return self.decode(self.quantizer.codebook[indices].permute(0, 3, 1, 2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Quantized]:
        q = self.quantizer(self.encode(x))
        return self.decode(q.quantized), q

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Reconstruction ‖x − x̂‖² (mean over pixels) + the quantiser's loss; and the parts."""
        q = self.quantizer(self.encode(x))
        # unclipped: a clipped output has no gradient where it strays past 0 or 1
        reconstruction = F.mse_loss(self.decoder(q.quantized), x)
        loss = reconstruction + q.loss
        return loss, {"reconstruction": reconstruction.detach(), "commitment": q.commitment.detach(),
                      "perplexity": q.perplexity.detach(), "loss": loss.detach()}

    # -- the generative-model protocol (dgm_core.generative)
    prior = None            # a prior over code grids, from `prepare`

    def prepare(self, run: dict) -> None:
        """A prior over code grids, fitted to the codes of the run's training images (PositionPrior)."""
        from dgm_core.data import load_dataset

        train = load_dataset(run.get("dataset", "digits"), "train", self.image_size)
        self.prior = PositionPrior(codes(self, train.images)["indices"], self.num_codes)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        if self.prior is None:
            raise RuntimeError("a VQ-VAE samples code grids from a prior fitted to its training codes: call "
                               "prepare(run) with the run its history.json records")
        return self.decode_indices(self.prior.sample(n, generator))

    def sampling_note(self) -> str:
        return "a code grid from a prior fitted by counting codes at each position (no PixelCNN), then the decoder"

    @torch.no_grad()
    def interpolate(self, ends: torch.Tensor, points: int, generator: torch.Generator) -> Interpolation:
        z = self.encode(ends)                                       # (2, D, h, h), before quantising
        path = torch.stack([torch.lerp(z[0], z[1], t) for t in torch.linspace(0, 1, points).tolist()])
        return Interpolation(self.decode(self.quantizer(path).quantized),
                             "the encoder outputs z_e(x) of two test digits, each point quantised to its nearest codes")

    def likelihood_of(self, images: torch.Tensor, generator: torch.Generator, importance: int) -> Likelihood:
        return Likelihood(None, None, "none: the decoder is deterministic and the prior counts codes, so the model "
                                      "gives no probability to an image")

    def sampling_weights(self) -> int:
        """The decoder's weights and the codebook (a buffer when it is learned by EMA)."""
        return sum(p.numel() for p in self.decoder.parameters()) + self.quantizer.codebook.numel()


# --------------------------------------------------------------------------- codes of a data set
@torch.no_grad()
def codes(model: VQVAE, images: torch.Tensor, batch_size: int = 512) -> dict[str, torch.Tensor]:
    """For each image: its code indices (N, h, h), its quantised latent flattened (N, h·h·D) and its
    code histogram (N, K: how many of its h·h positions use each code), in batches."""
    model.eval()
    indices, latents = [], []
    for start in range(0, len(images), batch_size):
        q = model.quantizer(model.encode(images[start:start + batch_size]))
        indices.append(q.indices)
        latents.append(q.quantized.flatten(1))
    indices = torch.cat(indices)
    histogram = F.one_hot(indices.flatten(1), model.num_codes).sum(1).float()
    return {"indices": indices, "latent": torch.cat(latents), "histogram": histogram}


@torch.no_grad()
def reconstruction_report(model: VQVAE, images: torch.Tensor, batch_size: int = 512) -> dict:
    """Mean squared error per pixel and the codebook's health over `images`."""
    model.eval()
    error, counts = 0.0, torch.zeros(model.num_codes)
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        recon, q = model(batch)
        error += float(F.mse_loss(recon, batch, reduction="sum"))
        counts += torch.bincount(q.indices.flatten().cpu(), minlength=model.num_codes).float()
    return {"mse": error / images.numel(), **codebook_health(counts), "counts": counts}


# --------------------------------------------------------------------------- sampling new images
class PositionPrior:
    """The simplest prior over code grids: an independent categorical at each of the h·h positions,
    p(k at position i) ∝ 1 + #{training images with code k at i} (add-one smoothing), so

        p(grid) = Π_i p_i(k_i).

    A VQ-VAE generates by sampling a grid from a prior and decoding it; the paper fits an
    autoregressive PixelCNN over the grid (van den Oord et al., 2017, §4.1), which captures how
    positions depend on each other. This one does not, so its samples mix strokes of different digits:
    it shows what the decoder makes of plausible codes, not the best a VQ-VAE can do."""

    def __init__(self, indices: torch.Tensor, num_codes: int):
        self.side = indices.shape[-1]
        counts = F.one_hot(indices.flatten(1), num_codes).sum(0).double() + 1.0      # (h·h, K)
        self.probs = counts / counts.sum(1, keepdim=True)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n code grids (n, h, h)."""
        drawn = torch.multinomial(self.probs, n, replacement=True, generator=generator)   # (h·h, n)
        return drawn.T.reshape(n, self.side, self.side)
