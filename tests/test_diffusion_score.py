"""Scores, Langevin sampling and ODE likelihoods (dgm_core.diffusion) against independent oracles: autograd
of torch.distributions' mixture density, the energy lab's SGLD, closed-form Gaussian flows and densities, and
the exact divergence for Hutchinson's estimate."""
import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from dgm_core import diffusion
from dgm_core.ebm import SGLD


def _torch_mixture(mixture: diffusion.GaussianMixture) -> D.MixtureSameFamily:
    components = D.Independent(D.Normal(mixture.means, mixture.stds[:, None].expand_as(mixture.means)), 1)
    return D.MixtureSameFamily(D.Categorical(probs=mixture.weights), components)


UNEQUAL = diffusion.GaussianMixture(torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64),
                                    torch.tensor([[0.0, 0.0], [1.5, -0.5], [-1.0, 2.0]], dtype=torch.float64),
                                    torch.tensor([0.3, 0.8, 0.15], dtype=torch.float64))


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians", "unequal weights and widths"])
def test_a_noised_mixtures_score_and_density_equal_autograd_of_torch_distributions(name):
    toy = UNEQUAL if name.startswith("unequal") else diffusion.toy_mixture(name)
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2.5
    for scale, noise in ((1.0, 0.0), (1.0, 0.3), (0.8, 0.6), (0.05, 0.998)):   # data, VE noise, VP noise
        noised = toy.noised(scale, noise)
        reference = _torch_mixture(noised)
        xs = x.clone().requires_grad_(True)
        log_p = reference.log_prob(xs)
        (grad,) = torch.autograd.grad(log_p.sum(), xs)
        assert torch.allclose(noised.log_prob(x), log_p.detach(), atol=1e-9)
        assert torch.allclose(noised.score(x), grad, atol=1e-7)
    assert diffusion.toy_mixture("moons") is None


def test_a_noised_mixture_is_the_law_of_the_noised_samples():
    toy = diffusion.toy_mixture("8gaussians")
    generator = torch.Generator().manual_seed(1)
    x = toy.sample(100_000, generator)
    noised = 0.6 * x + 0.8 * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    law = toy.noised(0.6, 0.8)
    # the second moment per axis: Σ w (μ² + s²) of the noised components
    expected = (law.weights[:, None] * (law.means ** 2 + law.stds[:, None] ** 2)).sum(0)
    assert torch.allclose((noised ** 2).mean(0), expected, rtol=0.02)


def test_langevin_is_the_energy_labs_sgld_with_the_score_as_minus_the_gradient():
    """E(x) = |x|²/2 has score −x: our step with α and SGLD with step α/2 and noise √α move the same chains."""
    alpha, steps = 0.02, 30
    x0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
    sgld = SGLD(steps=steps, step_size=alpha / 2, sigma_start=math.sqrt(alpha), sigma_end=math.sqrt(alpha), clamp=None)
    theirs, _, _ = sgld.run(lambda x, y: 0.5 * (x ** 2).sum(1), x0, torch.Generator().manual_seed(3))
    ours, generator = x0.clone(), torch.Generator().manual_seed(3)
    for _ in range(steps):
        ours = diffusion.langevin_step(-ours, ours, alpha, generator)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_annealed_langevin_with_the_true_scores_finds_every_mode_in_its_share():
    toy = diffusion.toy_mixture("8gaussians")
    sigmas = diffusion.noise_levels(3.0, 0.05, 10)
    score = lambda x, sigma: toy.noised(1.0, float(sigma[0])).score(x)  # noqa: E731 - one level per call here
    start = torch.rand(4000, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 8 - 4
    samples, calls = diffusion.annealed_langevin(score, start, sigmas, steps_per_level=100, epsilon=2e-4,
                                                 generator=torch.Generator().manual_seed(5))
    assert calls == 10 * 100 + 1
    nearest = torch.cdist(samples, toy.means).min(1)
    shares = torch.bincount(nearest.indices, minlength=8).double() / len(samples)
    assert (nearest.values < 3 * toy.stds[0] + 0.05).double().mean() > 0.95          # on a mode
    assert torch.allclose(shares, torch.full((8,), 1 / 8, dtype=torch.float64), atol=0.03)   # every mode, fairly


def test_denoising_score_matching_is_lowest_at_the_true_score():
    toy = diffusion.toy_mixture("8gaussians")
    sigmas = diffusion.noise_levels(2.0, 0.1, 6)
    x = toy.sample(50_000, torch.Generator().manual_seed(6))
    true = lambda x, sigma: _batched_score(toy, x, sigma)  # noqa: E731
    losses = {}
    for name, field in {"true": true, "shrunk": lambda x, s: 0.8 * true(x, s),
                        "shifted": lambda x, s: true(x, s) + 0.2}.items():
        losses[name] = diffusion.dsm_loss(field, x, sigmas, torch.Generator().manual_seed(7)).item()
    assert losses["true"] < losses["shrunk"] and losses["true"] < losses["shifted"], losses
    with pytest.raises(ValueError, match="at least 2 levels"):
        diffusion.noise_levels(1.0, 2.0, 5)


def _batched_score(toy, x, sigma):
    """The true score of p_σ at each point, for a σ per point (grouped by level)."""
    out = torch.empty_like(x)
    for level in sigma.unique():
        rows = sigma == level
        out[rows] = toy.noised(1.0, float(level)).score(x[rows])
    return out


# ------------------------------------------------------------------------------ the likelihood through the ODE
def _gaussian_flow(mean: torch.Tensor, std: float):
    """The marginal velocity of flow matching's straight path from N(0, I) to N(m, s² I), in closed form:
    x_t ~ N(t m, σ_t² I) with σ_t² = (1 − t)² + t² s², and v = m + (t s² − (1 − t)) / σ_t² · (x − t m)."""
    def velocity(x, t):
        t = t.reshape(-1, 1).to(x.dtype)
        var = (1 - t) ** 2 + t ** 2 * std ** 2
        return mean + (t * std ** 2 - (1 - t)) / var * (x - t * mean)
    return velocity


def test_the_ode_likelihood_of_a_gaussian_flow_is_the_gaussians_density():
    mean, std = torch.tensor([1.0, -2.0], dtype=torch.float64), 0.5
    x = mean + std * torch.randn(50, 2, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    exact = D.Independent(D.Normal(mean, torch.full((2,), std, dtype=torch.float64)), 1).log_prob(x)
    ours = diffusion.log_likelihood(_gaussian_flow(mean, std), x, steps=40)
    assert torch.allclose(ours, exact, atol=1e-4), (ours - exact).abs().max()
    # the flow itself carries the noise to the data: Heun's samples have the data's moments
    samples = diffusion.integrate(_gaussian_flow(mean, std), torch.randn(20_000, 2, generator=torch.Generator().manual_seed(9),
                                                                         dtype=torch.float64), 40, "heun")
    assert torch.allclose(samples.mean(0), mean, atol=0.02) and torch.allclose(samples.std(0), torch.full((2,), std, dtype=torch.float64), rtol=0.03)


def test_a_ddpms_probability_flow_likelihood_of_gaussian_data_is_its_closed_form():
    """Data N(μ, s² I) noised to ᾱ is N(√ᾱ μ, (ᾱ s² + 1 − ᾱ) I), whose exact ε-prediction is
    √(1 − ᾱ)(x − √ᾱ μ)/v: the VP ODE from σ̄ = 1,000 (taken as N(0, I)) down to σ̄_min must give the density of
    the data noised to σ̄_min, in closed form (scipy)."""
    from scipy import stats

    mean, std = torch.tensor([0.4, -0.3, 0.1], dtype=torch.float64), 0.35
    sigma_min, sigma_max = 0.01, 1000.0

    def eps(x, alpha_bar):
        a = alpha_bar.reshape(-1, 1)
        variance = a * std ** 2 + 1 - a
        return (1 - a).sqrt() * (x - a.sqrt() * mean) / variance

    x = mean + std * torch.randn(40, 3, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    ours = diffusion.log_likelihood(diffusion.vp_velocity(eps, sigma_min, sigma_max), x, steps=80)
    a_min = 1 / (1 + sigma_min ** 2)
    exact = stats.multivariate_normal(math.sqrt(a_min) * mean.numpy(), (a_min * std ** 2 + 1 - a_min) * np.eye(3)).logpdf(x.numpy())
    assert np.allclose(ours.numpy(), exact, atol=2e-3), np.abs(ours.numpy() - exact).max()
    # an ε-prediction off by 10 % is told apart
    wrong = diffusion.log_likelihood(diffusion.vp_velocity(lambda x, a: 1.1 * eps(x, a), sigma_min, sigma_max), x, steps=80)
    assert np.abs(wrong.numpy() - exact).mean() > 0.05


def test_the_continuous_cosine_schedule_is_the_discrete_one_and_its_inverse():
    discrete = diffusion.cosine_schedule(1000)
    t = torch.arange(0, 990)        # the last steps are clipped at β = 0.999 in the discrete one
    assert torch.allclose(diffusion.cosine_alpha_bar((t + 1).double() / 1000), discrete.alphas_cumprod[:990], rtol=1e-9)
    u = torch.linspace(0.001, 0.995, 50, dtype=torch.float64)
    assert torch.allclose(diffusion.cosine_time(diffusion.cosine_alpha_bar(u)), u, atol=1e-9)


def test_hutchinsons_divergence_is_unbiased_for_the_exact_one():
    with torch.random.fork_rng():      # the network's initial weights only, leaving the global stream as it was
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)).double()
    velocity = lambda x, t: net(torch.cat([x, t[:, None]], 1))  # noqa: E731
    x = torch.randn(1, 3, generator=torch.Generator().manual_seed(10), dtype=torch.float64).expand(20_000, 3)
    t = torch.full((20_000,), 0.3, dtype=torch.float64)
    _, exact = diffusion.divergence(velocity, x[:1], t[:1])
    jacobian = torch.autograd.functional.jacobian(lambda p: velocity(p[None], t[:1])[0], x[0])
    assert exact.item() == pytest.approx(torch.trace(jacobian).item(), rel=1e-10)
    probe = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(11)).double() * 2 - 1
    _, estimates = diffusion.divergence(velocity, x, t, "hutchinson", probe)
    assert estimates.mean().item() == pytest.approx(exact.item(), abs=4 * estimates.std().item() / math.sqrt(20_000))
    assert estimates.std().item() > 0     # an estimate, not the exact value in disguise
    with pytest.raises(ValueError, match="choose one of exact, hutchinson"):
        diffusion.divergence(velocity, x[:1], t[:1], "skilling")


def test_the_hutchinson_likelihood_averages_to_the_exact_one():
    mean, std = torch.tensor([0.5, 0.5], dtype=torch.float64), 0.7
    x = torch.tensor([[0.2, 1.1]], dtype=torch.float64).expand(400, 2)
    exact = diffusion.log_likelihood(_gaussian_flow(mean, std), x[:1], steps=20)
    estimates = diffusion.log_likelihood(_gaussian_flow(mean, std), x, steps=20, method="hutchinson",
                                         generator=torch.Generator().manual_seed(12))
    assert np.isclose(estimates.mean().item(), exact.item(), atol=4 * estimates.std().item() / 20 + 1e-9)
