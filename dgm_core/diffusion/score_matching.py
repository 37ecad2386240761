"""Score-based models (Song & Ermon, 2019): denoising score matching over a ladder of noise levels, annealed
Langevin dynamics, and the true score of a noised Gaussian mixture, the oracle the 2-D lab measures against.

The score is s(x) = ∇_x log p(x). Noising the data with N(0, σ² I) gives p_σ, whose score a network s(x, σ)
learns by denoising score matching (Vincent, 2011): for x̃ = x + σ z,

    L(σ) = ½ E ‖s(x̃, σ) + z / σ‖²,   weighted by λ(σ) = σ² over a geometric ladder σ_1 > … > σ_L (eq. 6).

Annealed Langevin dynamics (Algorithm 1) then samples from the largest σ down, at each level T steps of

    x ← x + (α_i / 2) s(x, σ_i) + √α_i z,   α_i = ε σ_i² / σ_L²,

which is the energy lab's SGLD (dgm_core.ebm.SGLD: x ← x − ε∇E + σξ) with ∇E = −s, step α/2 and noise √α:
an energy's score is minus its gradient, and a diffusion model's ε̂ is a scaled score, ε̂ = −√(1 − ᾱ_t) s.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

#: s(x, σ): a model's score of p_σ at x, for a batch x and one noise level per sample.
ScoreModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def noise_levels(sigma_max: float, sigma_min: float, levels: int) -> torch.Tensor:
    """σ_1 > … > σ_L, geometric (Song & Ermon, §4.2): each level's noise overlaps the next one's."""
    if not 0 < sigma_min < sigma_max or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"need 0 < σ_min < σ_max and at least 2 levels; got σ from {sigma_min:g} to "
                         f"{sigma_max:g} over {levels!r}")
    return torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), levels, dtype=torch.float64))


def dsm_loss(score: ScoreModel, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator | None = None
             ) -> torch.Tensor:
    """Σ-weighted denoising score matching of one batch, a level drawn per sample: ½ E[σ² ‖s(x̃, σ) + z/σ‖²]
    = ½ E ‖σ s(x̃, σ) + z‖² (λ(σ) = σ² makes every level's term of order one)."""
    pick = torch.randint(len(sigmas), (len(x),), generator=generator, device=x.device)
    sigma = sigmas.to(x.device, x.dtype)[pick]
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    shaped = sigma.reshape(-1, *([1] * (x.dim() - 1)))
    return 0.5 * ((shaped * score(x + shaped * z, sigma) + z) ** 2).flatten(1).sum(1).mean()


def langevin_step(score_at_x: torch.Tensor, x: torch.Tensor, alpha: float, generator: torch.Generator | None = None
                  ) -> torch.Tensor:
    """x + (α/2) s(x) + √α z: one step of (unadjusted) Langevin dynamics toward the density whose score is s."""
    return x + alpha / 2 * score_at_x + math.sqrt(alpha) * torch.randn(x.shape, generator=generator, dtype=x.dtype,
                                                                       device=x.device)


@torch.no_grad()
def annealed_langevin(score: ScoreModel, x: torch.Tensor, sigmas: torch.Tensor, steps_per_level: int = 100,
                      epsilon: float = 2e-5, generator: torch.Generator | None = None, final_denoise: bool = True,
                      trajectory: bool = False):
    """Song & Ermon's Algorithm 1 from starts x: `steps_per_level` Langevin steps at each σ_i, step size
    α_i = ε σ_i² / σ_L². With final_denoise, one last Tweedie step x + σ_L² s(x, σ_L) removes the smallest noise
    (Song & Ermon, 2020, §3.3 of "Improved techniques"). Returns the samples (with trajectory=True, the starts
    and the state after each level and after the denoising step) and the model calls made."""
    if steps_per_level < 1 or epsilon <= 0:
        raise ValueError("annealed Langevin needs at least 1 step per level and a step size ε above 0")
    calls, path = 0, [x]
    last = float(sigmas[-1])
    for sigma in sigmas.tolist():
        alpha = epsilon * sigma ** 2 / last ** 2
        level = torch.full((len(x),), sigma, dtype=x.dtype, device=x.device)
        for _ in range(steps_per_level):
            x = langevin_step(score(x, level), x, alpha, generator)
            calls += 1
        path.append(x)
    if final_denoise:
        x = x + last ** 2 * score(x, torch.full((len(x),), last, dtype=x.dtype, device=x.device))
        calls += 1
        path.append(x)
    return (path if trajectory else x), calls


# ------------------------------------------------------------------------------ the oracle: a noised mixture
@dataclass(frozen=True)
class GaussianMixture:
    """Σ_k w_k N(μ_k, s_k² I): a 2-D toy whose noised versions have closed-form scores."""
    weights: torch.Tensor        # (K,)
    means: torch.Tensor          # (K, D)
    stds: torch.Tensor           # (K,)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator, dtype=self.means.dtype)
        return self.means[k] + self.stds[k, None] * noise

    def noised(self, scale, noise_std) -> GaussianMixture:
        """The law of a x + b ε, ε ~ N(0, I): components N(a μ_k, (a² s_k² + b²) I). VP diffusion (DDPM) has
        (a, b) = (√ᾱ_t, √(1 − ᾱ_t)); score matching's noising (VE) has (1, σ)."""
        scale, noise_std = float(scale), float(noise_std)
        return GaussianMixture(self.weights, scale * self.means, (scale ** 2 * self.stds ** 2 + noise_std ** 2).sqrt())

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[1]
        variance = self.stds ** 2
        squared = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        logs = (torch.log(self.weights) - 0.5 * d * torch.log(2 * math.pi * variance))[None] - 0.5 * squared / variance[None]
        return torch.logsumexp(logs, dim=1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """∇ log p(x) = Σ_k r_k(x) (μ_k − x) / s_k², with r_k the components' responsibilities."""
        d = x.shape[1]
        variance = self.stds ** 2
        squared = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        logs = (torch.log(self.weights) - 0.5 * d * torch.log(variance))[None] - 0.5 * squared / variance[None]
        responsibilities = torch.softmax(logs, dim=1)
        return (responsibilities[:, :, None] * (self.means[None] - x[:, None, :]) / variance[None, :, None]).sum(1)


def toy_mixture(name: str) -> GaussianMixture | None:
    """The Gaussian-mixture toy `name` of the 2-D data (dgm_core.data.toy2d: 8 or 25 Gaussians) as a mixture
    with known scores, or None for a toy that is not one."""
    from dgm_core.data.toy2d import toy_modes

    modes = toy_modes(name)
    if modes is None:
        return None
    centres, std = modes
    k = len(centres)
    return GaussianMixture(torch.full((k,), 1 / k, dtype=torch.float64), torch.as_tensor(centres, dtype=torch.float64),
                           torch.full((k,), float(std), dtype=torch.float64))
