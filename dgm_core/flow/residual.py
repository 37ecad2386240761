"""Residual flows' log-determinant (Behrmann et al., 2019; Chen et al., 2019): a contractive residual block
g(x) = x + h(x), log det(I + J_h) as a power series of traces, and Hutchinson's estimator of each trace,
truncated or with Russian-roulette reweighting; the study of their bias and variance."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.generative import probes


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



def _row(estimator: str, kind: str, terms, m: int, estimates: torch.Tensor, bias: float) -> dict:
    mean, var = float(estimates.mean()), float(estimates.var())
    return {"estimator": estimator, "probes": kind, "terms n": terms, "probe vectors m": m, "bias": bias,
            "variance": var, "mean": mean, "standard error": math.sqrt(var / len(estimates))}
