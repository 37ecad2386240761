"""The one protocol every generative model of images answers, whatever its family.

As normflows gives every flow `sample` and `log_prob`, and diffusers every pipeline one call, each model
class here says itself:

  sample(n, generator)            n images (n, C, H, W) in [0, 1], all randomness from `generator`;
  sampling_note()                 how it draws a sample, in a sentence;
  interpolate(ends, points, g)    images on the straight line between the latent points of two images,
                                  or None where it has no latent space (`no_latent_space` says why);
  likelihood_of(images, g, k)     bits/dim of each image on a stated quantisation, with what the number
                                  is (its estimator, with k importance samples), or None and why not;
  sampling_weights()              how many of its weights draw a sample.

What a model needs from its training run beyond its weights (the sampler an energy model was trained
with, a prior over a VQ-VAE's codes fitted to the training codes) it takes in `prepare(run)`, with the
run's settings as history.json records them. The comparison, the catalogue and the lessons call only
these; none of them branches on a family.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Quantisation:
    """Discrete images of side x side pixels, each one of `levels` grey levels: a probability over such
    images is a number of bits, and bits/dim divides it by the side² pixels."""
    side: int
    levels: int

    def describe(self) -> str:
        return f"{self.side}x{self.side} pixels at {self.levels} grey levels"


@dataclass(frozen=True)
class Likelihood:
    """Per-image bits/dim −log₂ P(x) / D on `quantisation`, or None where the model gives no probability
    there; `estimator` says what the number is (a bound, its importance samples) or why there is none."""
    bits_per_dim: torch.Tensor | None
    quantisation: Quantisation | None
    estimator: str


@dataclass(frozen=True)
class Interpolation:
    images: torch.Tensor          # (points, C, H, W), both ends included
    ends: str                     # where the two latent points came from


class GenerativeModel:
    """The protocol, as a mixin for HubModel subclasses; see the module's docstring."""

    #: Why there is no latent space to interpolate in, for a model whose `interpolate` returns None.
    no_latent_space: str = "the model has no latent space"

    def prepare(self, run: dict) -> None:
        """Take what sampling needs from the training run's settings (default: nothing)."""

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must say how it samples")

    def sampling_note(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must say in a sentence how it samples")

    def interpolate(self, ends: torch.Tensor, points: int, generator: torch.Generator) -> Interpolation | None:
        """`points` images between the latent points of the two images `ends` (2, C, H, W), or None."""
        return None

    def likelihood_of(self, images: torch.Tensor, generator: torch.Generator, importance: int) -> Likelihood:
        raise NotImplementedError(f"{type(self).__name__} must give its likelihood, or say why it has none")

    def sampling_modules(self) -> list[nn.Module]:
        """The modules whose weights draw a sample (default: the whole model)."""
        return [self]

    def sampling_weights(self) -> int:
        seen = {id(p): p.numel() for module in self.sampling_modules() for p in module.parameters()}
        return sum(seen.values())


def sample_in_batches(model: GenerativeModel, n: int, generator: torch.Generator, batch: int = 500) -> torch.Tensor:
    """n samples drawn `batch` at a time, so a large draw's memory stays bounded."""
    return torch.cat([model.sample(min(batch, n - i), generator) for i in range(0, n, batch)])


def importance_weighted_bits(draws: torch.Tensor, pixels: int) -> torch.Tensor:
    """Bits/dim of log (1/K) Σ_k exp(ℓ_k) for K draws (K, N) of a per-image log-probability bound in nats:
    log-mean-exp of K importance draws is itself a lower bound on log P(x), tighter as K grows (Burda et
    al., 2016, Theorem 1)."""
    import math

    log_p = torch.logsumexp(draws, 0) - math.log(len(draws))
    return -log_p / (pixels * math.log(2))


# ---------------------------------------------------------------- what several families' likelihoods share
def to_levels(images: torch.Tensor, levels: int) -> torch.Tensor:
    """Images in [0, 1] with `levels` grey levels → integers 0 … levels − 1 (as floats): the discrete data
    every likelihood on a stated Quantisation counts."""
    return torch.round(images.clamp(0, 1) * (levels - 1))


def probes(kind: str, count: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """Hutchinson probes with E[v vᵀ] = I, so that E[vᵀ A v] = tr A (Hutchinson, 1989): Gaussian N(0, I) or
    Rademacher (±1, each with ½). Residual flows estimate a log-determinant with them, continuous-time models
    (flow matching, the probability-flow ODE) a divergence."""
    if kind == "gaussian":
        return torch.randn(count, dim, generator=generator)
    if kind == "rademacher":
        return torch.randint(0, 2, (count, dim), generator=generator).float() * 2 - 1
    raise ValueError(f"probe kind must be 'gaussian' or 'rademacher'; got {kind!r}")
