"""The variational autoencoder (Kingma & Welling, 2014) and β-VAE (Higgins et al., 2017).

Read top to bottom: the model; the evidence lower bound and its terms; β schedules; the
importance-weighted likelihood estimate; the tools the lab uses to look inside the latent space
(interpolation, traversals, per-dimension KL, active units, attribute vectors); the loss of one
training step.

Every stochastic function takes a `generator` (a torch.Generator), so that an evaluation draws
its own reproducible noise and never reseeds or advances the global RNG that training uses.

Notation: x an image with D = C·H·W pixels, z ∈ R^L the latent, prior p(z) = N(0, I),
encoder q(z|x) = N(μ(x), diag σ²(x)), decoder p(x|z) Bernoulli, Gaussian or categorical (over the image's grey levels) per pixel.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.generative import GenerativeModel, Interpolation, Likelihood, Quantisation
from dgm_core.hub import HubModel

LOG_2PI = math.log(2 * math.pi)
#: The most latent points an evaluation decodes in one call (images × samples). Memory grows with
#: it (about 0.1 MB per 28x28 point in the decoder's widest layer), speed barely does beyond it.
DECODE_BATCH = 1024


class ConvVAE(HubModel, GenerativeModel):
    """Encoder Conv2d → Conv2d → flatten → dense to (μ, log σ²);
    decoder dense → reshape → ConvTranspose2d ×2 → Conv2d output.

    With `hidden` > 0 each dense part has one hidden ReLU layer of that width, as in the β-VAE
    paper's architecture (Higgins et al., 2017, Table 1: 256 units): a single linear map from z
    to the feature map cannot place an object at a position given by one coordinate, so the
    decoder would spread position over many latents (cf. Watters et al., 2019).

    Each stride-2 layer halves (or doubles) the side, so `image_size` must be divisible by 4.
    With the Bernoulli likelihood the decoder outputs logits; with the Gaussian one it outputs
    the mean through a sigmoid and learns one shared log σ (the σ-VAE of Rybkin et al., 2021),
    so that reconstruction and KL are weighed by the data, not by a hand-set constant. With the
    categorical one it outputs `levels` logits per pixel, a softmax over the grey levels k/(L − 1)
    (as PixelCNN's 256-way softmax, van den Oord et al., 2016): a probability of the discrete image
    itself, so its IWAE bound is a bits/dim on the data's own quantisation.
    """

    model_type = "vae"

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 10, width: int = 32,
                 likelihood: str = "bernoulli", hidden: int = 0, levels: int = 17, binarisation: str = "threshold"):
        super().__init__()
        if binarisation not in ("threshold", "dynamic"):
            raise ValueError(f"binarisation must be 'threshold' or 'dynamic'; got {binarisation!r}")
        self.binarisation = binarisation
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4; got {image_size}")
        if likelihood not in ("bernoulli", "gaussian", "categorical"):
            raise ValueError(f"likelihood must be 'bernoulli', 'gaussian' or 'categorical'; got {likelihood!r}")
        if likelihood == "categorical" and not 2 <= levels <= 256:
            raise ValueError(f"levels must be between 2 and 256; got {levels}")
        self.image_size, self.channels, self.latent_dim, self.likelihood = image_size, channels, latent_dim, likelihood
        self.levels = levels
        side, channels_in = image_size // 4, 2 * width
        features = channels_in * side * side
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, channels_in, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            *_dense(features, 2 * latent_dim, hidden),
        )
        self.decoder = nn.Sequential(
            *_dense(latent_dim, features, hidden), nn.ReLU(),
            nn.Unflatten(1, (channels_in, side, side)),
            nn.ConvTranspose2d(channels_in, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, channels * levels if likelihood == "categorical" else channels, 3, padding=1),
        )
        self.log_sigma = nn.Parameter(torch.zeros(())) if likelihood == "gaussian" else None

    @property
    def pixels(self) -> int:
        return self.channels * self.image_size * self.image_size

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of q(z|x), each (B, L)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's raw output: logits (Bernoulli), pre-sigmoid means (Gaussian), or
        (B, C, levels, H, W) logits over the grey levels (categorical)."""
        out = self.decoder(z)
        if self.likelihood == "categorical":
            return out.view(len(out), self.channels, self.levels, *out.shape[-2:])
        return out

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z] in [0, 1]: the picture a latent point stands for."""
        if self.likelihood == "categorical":
            grey = torch.linspace(0, 1, self.levels, device=z.device).view(1, 1, -1, 1, 1)
            return (torch.softmax(self.decode(z), dim=2) * grey).sum(2)
        return torch.sigmoid(self.decode(z))

    def log_likelihood(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over pixels, per example (B,).
        Bernoulli: Σ x log p + (1−x) log(1−p) with p = sigmoid(logits).
        Gaussian:  Σ −½((x − m)/σ)² − log σ − ½ log 2π with m = sigmoid(output).
        Categorical: Σ log softmax(logits)[k] with k = round(x (L − 1)), the pixel's grey level."""
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(decoded, x, reduction="none").flatten(1).sum(1)
        if self.likelihood == "categorical":
            k = torch.round(x.clamp(0, 1) * (self.levels - 1)).long()
            return -F.cross_entropy(decoded.transpose(1, 2), k, reduction="none").flatten(1).sum(1)
        mean = torch.sigmoid(decoded)
        log_sigma = self.log_sigma.clamp(min=-6.0)   # σ ≥ 0.0025: keeps the density finite on flat pixels
        log_px = -0.5 * ((x - mean) / log_sigma.exp()) ** 2 - log_sigma - 0.5 * LOG_2PI
        return log_px.flatten(1).sum(1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass with the reparameterisation trick z = μ + σ ⊙ ε, ε ~ N(0, I):
        returns (log p(x|z) per example, KL per example and dimension (B, L), z)."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator)
        return self.log_likelihood(x, self.decode(z)), gaussian_kl(mu, logvar), z

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) over the last dimension: here N(0, I); a learned prior overrides it
        (dgm_core/vae_flow_prior.py)."""
        return (-0.5 * z.pow(2) - 0.5 * LOG_2PI).sum(-1)

    @torch.no_grad()
    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = next(self.parameters()).device
        return torch.randn(n, self.latent_dim, generator=generator, device=device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images E[x|z] for z ~ p(z)."""
        return self.decode_mean(self.prior_sample(n, generator))

    # -- the generative-model protocol (dgm_core.generative)
    def sampling_note(self) -> str:
        return "z ~ p(z), then the decoder's mean E[x|z]"

    @torch.no_grad()
    def interpolate(self, ends: torch.Tensor, points: int, generator: torch.Generator) -> Interpolation:
        mu, _ = encode_means(self, prepare_batch(self, ends))
        return Interpolation(self.decode_mean(interpolate(mu[0], mu[1], points - 2)),
                             "the encoder means μ(x) of two test digits")

    @torch.no_grad()
    def likelihood_of(self, images: torch.Tensor, generator: torch.Generator, importance: int) -> Likelihood:
        """The IWAE bound with k = `importance` (iwae_log_likelihood), as bits/dim of the discrete images
        the decoder models: the binarised images (Bernoulli) or the grey levels (categorical)."""
        if self.likelihood == "gaussian":
            return Likelihood(None, None, "none: a Gaussian decoder gives a density over continuous pixels, not a "
                                          "probability of discrete images")
        levels = 2 if self.likelihood == "bernoulli" else self.levels
        nll = -iwae_log_likelihood(self, prepare_batch(self, images), importance, generator=generator)
        binarised = ("threshold ½" if self.binarisation == "threshold" else
                     "each pixel drawn once as Bernoulli(grey value), a fixed draw")
        decoder = (f"a Bernoulli decoder over binarised pixels ({binarised})" if levels == 2 else
                   f"a softmax over the {levels} grey levels per pixel")
        return Likelihood(bits_per_dim(nll, self.pixels), Quantisation(self.image_size, levels),
                          f"the IWAE bound L_k (Burda et al., 2016), k = {importance}, of {decoder}: a lower bound on "
                          "log P(x), so its bits/dim is an upper bound")

    def sampling_modules(self) -> list[nn.Module]:
        """The decoder, and a learned prior where there is one (dgm_core.vae_flow_prior)."""
        return [self.decoder, *([self.prior] if isinstance(getattr(self, "prior", None), nn.Module) else [])]


def _dense(n_in: int, n_out: int, hidden: int) -> list[nn.Module]:
    if hidden <= 0:
        return [nn.Linear(n_in, n_out)]
    return [nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out)]


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = μ + exp(½ log σ²) ⊙ ε, ε ~ N(0, I): a sample of q(z|x) that gradients flow through
    (Kingma & Welling, §2.4). ε comes from `generator`, or from the global RNG when it is None."""
    # randn_like without a generator: torch.compile traces it with dynamic batch sizes, while
    # randn(shape, generator=None) needs a concrete shape and breaks compiled training.
    eps = torch.randn_like(mu) if generator is None else torch.randn(
        mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per dimension = ½(μ² + σ² − log σ² − 1) (Kingma & Welling, Appendix B)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


# ------------------------------------------------------------------------------- the ELBO
@dataclass
class ElboTerms:
    """Per-batch means, in nats per image. ELBO = −(reconstruction + KL) ≤ log p(x)."""
    loss: torch.Tensor          # reconstruction + β·KL: what is minimised
    reconstruction: torch.Tensor  # −E_q[log p(x|z)]
    kl: torch.Tensor            # KL(q(z|x) ‖ p(z))
    elbo: torch.Tensor
    kl_per_dim: torch.Tensor    # (L,)


def elbo_terms(log_px_z: torch.Tensor, kl_per_dim: torch.Tensor, beta: float = 1.0) -> ElboTerms:
    """β-VAE objective (Higgins et al., 2017, eq. 4): E_q[log p(x|z)] − β KL(q(z|x) ‖ p(z)), negated.
    β = 1 is the ELBO of Kingma & Welling (eq. 10); β > 1 presses the posterior toward the prior."""
    reconstruction = -log_px_z.mean()
    kl = kl_per_dim.sum(1).mean()
    return ElboTerms(reconstruction + beta * kl, reconstruction, kl, -(reconstruction + kl), kl_per_dim.mean(0))


@dataclass(frozen=True)
class BetaSchedule:
    """β as a function of the training step.

    constant:  β
    warmup:    β · min(1, step / warmup_steps)  (Bowman et al., 2016; Sønderby et al., 2016)
    cyclical:  the warm-up repeated `cycles` times; in each cycle β rises linearly over the first
               `ratio` of it and then stays at β (Fu et al., 2019, eq. 5)
    """
    kind: str = "constant"
    beta: float = 1.0
    warmup_steps: int = 1000
    total_steps: int = 10_000
    cycles: int = 4
    ratio: float = 0.5

    def __post_init__(self):
        if self.kind not in ("constant", "warmup", "cyclical"):
            raise ValueError(f"beta schedule must be constant, warmup or cyclical; got {self.kind!r}")
        if self.beta < 0:
            raise ValueError(f"beta must be ≥ 0; got {self.beta}")

    def __call__(self, step: int) -> float:
        if self.kind == "constant":
            return self.beta
        if self.kind == "warmup":
            return self.beta * min(1.0, step / max(1, self.warmup_steps))
        period = max(1, self.total_steps) / self.cycles
        phase = (step % period) / period
        return self.beta * min(1.0, phase / self.ratio)


# -------------------------------------------------------------- importance-weighted bound
Progress = Callable[[int, int], None]     # (decodes done, decodes in all), called after every chunk


@torch.no_grad()
def iwae_log_likelihood(model: ConvVAE, x: torch.Tensor, k: int, *, batch: int = DECODE_BATCH,
                        generator: torch.Generator | None = None, progress: Progress | None = None) -> torch.Tensor:
    """The IWAE bound (Burda et al., 2016, eq. 8), per example (B,), in nats:

        log p(x) ≥ L_k = log (1/k) Σ_i p(x, z_i) / q(z_i|x),   z_i ~ q(z|x),

    with L_1 = ELBO ≤ L_k ≤ L_{k+1} in expectation, and L_k → log p(x) as k → ∞.

    Memory is bounded whatever B and k: at most `batch` latent points (images × samples) are
    decoded at once. The images go in groups of at most `batch`; each group draws its k samples
    `batch // group` at a time and folds them into a running log-sum-exp per image. ε comes from
    `generator`, so one seed gives the same numbers; `progress(done, total)` is called after each
    chunk with the decodes done so far, and whatever it raises stops the work there (a page's Stop)."""
    if k < 1 or batch < 1:
        raise ValueError(f"k and batch must be at least 1; got k={k}, batch={batch}")
    total, done = len(x) * k, 0
    result = torch.empty(len(x), device=x.device)
    for start in range(0, len(x), batch):
        group = x[start:start + batch]
        mu, logvar = model.encode(group)
        std = torch.exp(0.5 * logvar)
        per_chunk = max(1, batch // len(group))
        running = torch.full((len(group),), -math.inf, device=x.device)
        drawn = 0
        while drawn < k:
            m = min(per_chunk, k - drawn)
            eps = torch.randn(m, *mu.shape, generator=generator, device=x.device)
            z = mu + std * eps                                                  # (m, group, L)
            decoded = model.decode(z.flatten(0, 1))
            log_px_z = model.log_likelihood(group.expand(m, *group.shape).flatten(0, 1), decoded).view(m, -1)
            log_pz = model.prior_log_prob(z.flatten(0, 1)).view(m, -1)
            log_qz = (-0.5 * eps.pow(2) - 0.5 * logvar - 0.5 * LOG_2PI).sum(-1)
            running = torch.logaddexp(running, torch.logsumexp(log_px_z + log_pz - log_qz, dim=0))
            drawn += m
            done += m * len(group)
            if progress is not None:
                progress(done, total)
        result[start:start + len(group)] = running
    return result - math.log(k)


def likelihood_cost(images: int, k: int, batch: int = DECODE_BATCH) -> tuple[int, int]:
    """(decoder evaluations, chunks) of `iwae_log_likelihood` on `images` images with k samples:
    what a page shows before it runs the estimate."""
    per_chunk = max(1, batch // min(images, batch))
    groups = math.ceil(images / batch)
    return images * k, groups * math.ceil(k / per_chunk)


def quicker_likelihood_settings(images: int, k: int, budget: int, ks) -> tuple[int, int]:
    """For a run over `budget` decoder evaluations, the two quicker settings a page offers first:
    (the most images within the budget at this k, the largest k of `ks` within it for these images),
    each at least 1."""
    return max(1, budget // k), max((kk for kk in ks if images * kk <= budget), default=1)


@dataclass(frozen=True)
class LikelihoodEstimate:
    """Mean ELBO (one sample of z, analytic KL) and IWAE bound L_k over `images` images, in nats."""
    images: int
    k: int
    elbo: float
    iwae: float
    decodes: int
    pixels: int
    iwae_standard_error: float | None = None    # of the mean L_k over the images (sd / √images); None for one image

    @property
    def nll(self) -> float:
        """−L_k: an upper bound on the negative log-likelihood, in nats per image."""
        return -self.iwae

    @property
    def bits_per_dim(self) -> float:
        return bits_per_dim(self.nll, self.pixels)


@torch.no_grad()
def likelihood_estimate(model: ConvVAE, images: torch.Tensor, k: int, *, generator: torch.Generator | None = None,
                        progress: Progress | None = None, batch: int = DECODE_BATCH) -> LikelihoodEstimate:
    """The ELBO and L_k of the same images, both drawn from `generator` (ELBO first): the lab's
    "estimate it yourself", with `progress` called after each chunk (see `iwae_log_likelihood`)."""
    elbo = elbo_terms(*model(images, generator=generator)[:2]).elbo.item()
    iwae = iwae_log_likelihood(model, images, k, batch=batch, generator=generator, progress=progress)
    spread = iwae.std().item() / math.sqrt(len(images)) if len(images) > 1 else None
    return LikelihoodEstimate(len(images), k, elbo, iwae.mean().item(), len(images) * k, model.pixels, spread)


def bits_per_dim(nll_nats: float | torch.Tensor, pixels: int):
    """Negative log-likelihood per pixel in bits: NLL / (D ln 2)."""
    return nll_nats / (pixels * math.log(2))


# ------------------------------------------------------------ looking inside the latent space
@torch.no_grad()
def encode_means(model: ConvVAE, images: torch.Tensor, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """μ(x) and log σ²(x) for every image, in batches."""
    mus, logvars = [], []
    for i in range(0, len(images), batch_size):
        mu, logvar = model.encode(images[i:i + batch_size])
        mus.append(mu)
        logvars.append(logvar)
    return torch.cat(mus), torch.cat(logvars)


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Average KL(q(z_j|x) ‖ N(0,1)) over the data, one number per latent dimension (nats)."""
    return gaussian_kl(mu, logvar).mean(0)


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """A_u = Cov_x(E_{q(u|x)}[u]) > threshold (Burda et al., 2016, §5.2): a dimension is active
    when its posterior mean actually varies with the input. Returns a boolean mask (L,)."""
    return mu.var(0, unbiased=True) > threshold


def interpolate(z0: torch.Tensor, z1: torch.Tensor, between: int = 10, mode: str = "linear") -> torch.Tensor:
    """`between` points strictly between z0 and z1, plus both ends: (between + 2, L).
    linear: (1 − t) z0 + t z1.  spherical (slerp, Shoemake 1985; White 2016):
    sin((1 − t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1 with cos Ω = z0·z1 / (|z0||z1|), which keeps the
    path where Gaussian mass is (near the shell of radius ≈ √L) instead of cutting through the middle."""
    t = torch.linspace(0, 1, between + 2, device=z0.device).unsqueeze(1)
    if mode == "linear":
        return (1 - t) * z0 + t * z1
    if mode != "spherical":
        raise ValueError(f"mode must be 'linear' or 'spherical'; got {mode!r}")
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:                      # (anti)parallel ends: slerp degenerates to lerp
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def traversal_latents(z: torch.Tensor, dims: list[int], values: torch.Tensor) -> torch.Tensor:
    """Latent traversal (Higgins et al., 2017, Fig. 7): for each dim in `dims`, copies of z with
    that coordinate set to each of `values`. Returns (len(dims) * len(values), L), row-major."""
    rows = []
    for d in dims:
        zz = z.repeat(len(values), 1)
        zz[:, d] = values
        rows.append(zz)
    return torch.cat(rows)


def attribute_vector(mu: torch.Tensor, has_attribute: torch.Tensor) -> torch.Tensor:
    """Mean latent code of the images with the attribute minus that of the images without it
    (as in Larsen et al., 2016 for faces); adding it to a code moves the image along that factor."""
    has_attribute = has_attribute.bool()
    if has_attribute.all() or not has_attribute.any():
        raise ValueError("an attribute vector needs images both with and without the attribute")
    return mu[has_attribute].mean(0) - mu[~has_attribute].mean(0)


# ----------------------------------------------------------------------------- training
def binarize(x: torch.Tensor) -> torch.Tensor:
    """Fixed binarisation (threshold ½): a Bernoulli likelihood is a proper likelihood only of
    binary pixels, so the Bernoulli VAE is trained and scored on binarised images."""
    return (x > 0.5).to(x.dtype)


#: The seed of the one fixed stochastic binarisation a dynamically binarised VAE is measured on.
EVAL_BINARISATION_SEED = 0


def prepare_batch(model: ConvVAE, x: torch.Tensor, *, fresh: bool = False) -> torch.Tensor:
    """The images as the decoder models them. Bernoulli decoders see binary pixels: thresholded at ½, or
    (binarisation "dynamic", Salakhutdinov & Murray 2008; Burda et al. 2016) each pixel drawn as
    Bernoulli(grey value): a fresh draw at every training step (`fresh`, the global RNG the trainer seeds),
    and one fixed draw (EVAL_BINARISATION_SEED) wherever the model is measured, so a figure is repeatable."""
    if model.likelihood != "bernoulli":
        return x
    if getattr(model, "binarisation", "threshold") == "threshold":
        return binarize(x)
    if fresh:
        return torch.bernoulli(x)
    return torch.bernoulli(x, generator=torch.Generator(x.device).manual_seed(EVAL_BINARISATION_SEED))


def training_loss(model: nn.Module, x: torch.Tensor, beta: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The β-VAE loss of a batch (eq. 4 of Higgins et al.; see `elbo_terms`) and the terms to log.
    `model` may be wrapped (DDP, torch.compile); the caller owns autocast, backward and the
    optimiser step (training/loop.py). The terms are computed in float32 whatever the autocast."""
    log_px_z, kl_per_dim, _ = model(x)
    terms = elbo_terms(log_px_z.float(), kl_per_dim.float(), beta)
    logged = {"loss": terms.loss, "elbo": terms.elbo, "reconstruction": terms.reconstruction, "kl": terms.kl}
    return terms.loss, {**{k: v.detach() for k, v in logged.items()}, "beta": float(beta)}


def training_step(model: nn.Module, x: torch.Tensor, optimizer: torch.optim.Optimizer, beta: float) -> dict[str, float]:
    """One plain optimisation step on `training_loss` (for scripts and tests; the trainer's loop
    does the same with autocast and DDP). Returns the batch's terms (nats per image) and β."""
    optimizer.zero_grad(set_to_none=True)
    loss, metrics = training_loss(model, x, beta)
    loss.backward()
    optimizer.step()
    return {k: float(v) for k, v in metrics.items()}


@torch.no_grad()
def evaluate(model: ConvVAE, images: torch.Tensor, batch_size: int = 500, seed: int = 0) -> dict[str, float]:
    """Test-set ELBO, reconstruction and KL (nats per image, one sample of z each) and active units.
    The samples come from a generator seeded with `seed`: the same noise at every evaluation, so
    the curves are comparable, and the global RNG that training draws from is left alone."""
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    totals = {"elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
    for i in range(0, len(images), batch_size):
        x = prepare_batch(model, images[i:i + batch_size].to(device))
        log_px_z, kl_per_dim, _ = model(x, generator=generator)
        terms = elbo_terms(log_px_z, kl_per_dim)
        for key in totals:
            totals[key] += getattr(terms, key).item() * len(x)
    mu, _ = encode_means(model, prepare_batch(model, images.to(device)))
    model.train()
    result = {k: v / len(images) for k, v in totals.items()}
    result["active_units"] = int(active_units(mu).sum())
    return result


# -------------------------------------------------------------- what the lab pages show
@dataclass
class LatentReport:
    """A trained VAE seen through its test set: codes, KL per dimension, active units, MIG."""
    mu: torch.Tensor                 # (N, L) posterior means
    logvar: torch.Tensor             # (N, L)
    kl_per_dim: torch.Tensor         # (L,) nats, averaged over the test images
    active: torch.Tensor             # (L,) bool
    mig: float | None                # on datasets with known factors
    mig_per_factor: list[float] | None

    @property
    def dims_by_kl(self) -> list[int]:
        """Latent dimensions, most informative first."""
        return torch.argsort(self.kl_per_dim, descending=True).tolist()


@torch.no_grad()
def latent_report(model: ConvVAE, images: torch.Tensor, factor_index: torch.Tensor | None = None) -> LatentReport:
    from dgm_core.metrics import mutual_information_gap

    mu, logvar = encode_means(model, prepare_batch(model, images))
    mig = per_factor = None
    if factor_index is not None:
        mig, gaps = mutual_information_gap(mu.numpy(), factor_index.numpy(), per_factor=True)
        per_factor = gaps.tolist()
    return LatentReport(mu, logvar, kl_per_dimension(mu, logvar), active_units(mu), mig, per_factor)


@torch.no_grad()
def reconstruct(model: ConvVAE, images: torch.Tensor) -> torch.Tensor:
    """E[x|z = μ(x)]: the decoder's picture of each image's posterior mean."""
    mu, _ = model.encode(prepare_batch(model, images))
    return model.decode_mean(mu)


@torch.no_grad()
def interpolation_images(model: ConvVAE, x0: torch.Tensor, x1: torch.Tensor, mode: str = "linear",
                         between: int = 10) -> torch.Tensor:
    """Decode the path between the posterior means of two images: (between + 2, C, H, W)."""
    mu, _ = model.encode(prepare_batch(model, torch.stack([x0, x1])))
    return model.decode_mean(interpolate(mu[0], mu[1], between, mode))


@torch.no_grad()
def traversal_images(model: ConvVAE, z: torch.Tensor, dims: list[int], values: torch.Tensor) -> torch.Tensor:
    """Decoded traversal grid: len(dims) rows by len(values) columns, row-major."""
    return model.decode_mean(traversal_latents(z, dims, values))


@torch.no_grad()
def attribute_images(model: ConvVAE, x: torch.Tensor, vector: torch.Tensor, strengths: torch.Tensor) -> torch.Tensor:
    """Decode μ(x) + α·v for each strength α: the image moved along an attribute vector v."""
    mu, _ = model.encode(prepare_batch(model, x[None]))
    return model.decode_mean(mu + strengths[:, None] * vector[None])


def factor_mask(factor_index: torch.Tensor, factor: int, value_index: int) -> torch.Tensor:
    """Which images have a given grid value of one factor (for attribute vectors on shapes)."""
    return factor_index[:, factor] == value_index
