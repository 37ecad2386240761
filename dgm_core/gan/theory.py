"""The GAN theory in 1-D, in closed form: a Gaussian generator against Gaussian data with the optimal
discriminator D* (Goodfellow et al., 2014, Prop. 1 and Thm. 1), the Jensen–Shannon divergence that
saturates at log 2, the Wasserstein-1 distance that does not, and the generator gradients that vanish
(Arjovsky & Bottou, 2017)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaussianGame:
    """p_data = N(μ_d, σ_d²) against a generator p_g = N(θ, σ_g²), on a grid, with the optimal
    discriminator. Everything the theory panel plots comes from here."""
    theta: float
    sigma_g: float = 1.0
    mu_data: float = 0.0
    sigma_data: float = 1.0
    lim: float = 12.0
    points: int = 6001

    def __post_init__(self):
        for name in ("sigma_g", "sigma_data"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)}")

    @property
    def x(self) -> np.ndarray:
        low = min(self.mu_data - 10 * self.sigma_data, self.theta - 10 * self.sigma_g, -self.lim)
        high = max(self.mu_data + 10 * self.sigma_data, self.theta + 10 * self.sigma_g, self.lim)
        return np.linspace(low, high, self.points)

    def log_densities(self, x: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        x = self.x if x is None else x
        def log_normal(mu, s):
            return -0.5 * ((x - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
        return log_normal(self.mu_data, self.sigma_data), log_normal(self.theta, self.sigma_g)

    def optimal_logit(self, x: np.ndarray | None = None) -> np.ndarray:
        """log p_data − log p_g: D*(x) = p_data / (p_data + p_g) = σ(this) (Goodfellow et al., Prop. 1)."""
        log_d, log_g = self.log_densities(x)
        return log_d - log_g

    def optimal_discriminator(self, x: np.ndarray | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.optimal_logit(x), -700, 700)))

    def js_divergence(self) -> float:
        """JS(p_data ‖ p_g) = ½ KL(p_data ‖ m) + ½ KL(p_g ‖ m), m = (p_data + p_g)/2, in nats; at most
        log 2, reached when the supports separate. With D*, V(D*, G) = 2 JS − log 4 (Goodfellow et al., Thm. 1)."""
        x = self.x
        log_d, log_g = self.log_densities(x)
        log_m = np.logaddexp(log_d, log_g) - np.log(2)
        integrand = 0.5 * np.exp(log_d) * (log_d - log_m) + 0.5 * np.exp(log_g) * (log_g - log_m)
        return float(np.clip(np.trapezoid(integrand, x), 0.0, np.log(2)))

    def wasserstein(self) -> float:
        """W₁(p_data, p_g) = ∫ |F_data(x) − F_g(x)| dx for 1-D distributions (exact CDFs on the grid)."""
        from scipy.stats import norm

        x = self.x
        gap = np.abs(norm.cdf(x, self.mu_data, self.sigma_data) - norm.cdf(x, self.theta, self.sigma_g))
        return float(np.trapezoid(gap, x))

    def generator_gradients(self) -> dict[str, float]:
        """∂/∂θ of each generator loss with the discriminator held at D* for the current θ:

            saturating       ∂/∂θ E_{p_g}[log(1 − D*(x))] = E_{p_g}[−σ(ℓ(x)) ℓ'(x)]
            non-saturating   ∂/∂θ E_{p_g}[−log D*(x)]     = E_{p_g}[−(1 − σ(ℓ(x))) ℓ'(x)]

        with ℓ = log p_data − log p_g the optimal logit (x = θ + σ_g ε, so ∂x/∂θ = 1). Far from the
        data σ(ℓ) ≈ 0 on the generator's samples: the saturating gradient vanishes (Goodfellow et
        al., §3; Arjovsky & Bottou, 2017), the non-saturating one does not."""
        x = self.x
        logit = self.optimal_logit(x)
        slope = -(x - self.mu_data) / self.sigma_data ** 2 + (x - self.theta) / self.sigma_g ** 2
        p_g = np.exp(self.log_densities(x)[1])
        d_star = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        return {"saturating": float(np.trapezoid(p_g * -d_star * slope, x)),
                "non-saturating": float(np.trapezoid(p_g * -(1 - d_star) * slope, x))}


def separation_curves(shifts: np.ndarray, sigma_g: float = 1.0) -> dict[str, np.ndarray]:
    """JS, W₁ and both generator gradients as the generator's mean moves away from the data."""
    games = [GaussianGame(float(t), sigma_g) for t in shifts]
    grads = [g.generator_gradients() for g in games]
    return {"shift": np.asarray(shifts, float), "js": np.array([g.js_divergence() for g in games]),
            "wasserstein": np.array([g.wasserstein() for g in games]),
            "saturating": np.array([abs(g["saturating"]) for g in grads]),
            "non_saturating": np.array([abs(g["non-saturating"]) for g in grads])}

