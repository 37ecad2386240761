"""The VAE's mathematics against independent oracles: torch.distributions for the KL and the
likelihoods, numerical quadrature for log p(x), closed forms for slerp and the β schedules."""
import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Normal, kl_divergence

from dgm_core import vae
from dgm_core.data import load_dataset
from dgm_core.labs import vae as vae_lab


def test_kl_to_the_prior_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(50, 6) * 2, torch.randn(50, 6)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    assert torch.allclose(vae.gaussian_kl(mu, logvar), expected, atol=1e-5)
    assert torch.allclose(vae.gaussian_kl(torch.zeros(3), torch.zeros(3)), torch.zeros(3))


def test_likelihoods_match_torch_distributions():
    torch.manual_seed(2)
    x = (torch.rand(3, 1, 8, 8) > 0.5).float()
    bern = vae.ConvVAE(image_size=8, latent_dim=2, width=4)
    logits = torch.randn(3, 1, 8, 8)
    assert torch.allclose(bern.log_likelihood(x, logits), Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1), atol=1e-4)
    gauss = vae.ConvVAE(image_size=8, latent_dim=2, width=4, likelihood="gaussian")
    with torch.no_grad():
        gauss.log_sigma.fill_(-1.3)
    y = torch.rand(3, 1, 8, 8)
    expected = Normal(torch.sigmoid(logits), math.exp(-1.3)).log_prob(y).flatten(1).sum(1)
    assert torch.allclose(gauss.log_likelihood(y, logits), expected, atol=1e-4)
    # categorical over 17 grey levels: torch's Categorical at each pixel's level, and its mean image
    cat = vae.ConvVAE(image_size=8, latent_dim=2, width=4, likelihood="categorical", levels=17)
    levels = torch.randint(0, 17, (3, 1, 8, 8))
    level_logits = torch.randn(3, 1, 17, 8, 8)
    expected = Categorical(logits=level_logits.permute(0, 1, 3, 4, 2)).log_prob(levels).flatten(1).sum(1)
    assert torch.allclose(cat.log_likelihood(levels / 16, level_logits), expected, atol=1e-4)
    z = torch.randn(3, 2)
    probs = torch.softmax(cat.decode(z), dim=2).detach().numpy()
    np.testing.assert_allclose(cat.decode_mean(z).detach().numpy(), (probs * np.arange(17)[:, None, None]).sum(2) / 16,
                               atol=1e-6)


def test_elbo_terms_and_beta():
    log_px = torch.tensor([-10.0, -20.0])
    kl = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    terms = vae.elbo_terms(log_px, kl, beta=4.0)
    assert terms.reconstruction.item() == 15.0 and terms.kl.item() == 3.0
    assert terms.elbo.item() == -18.0 and terms.loss.item() == 15.0 + 4 * 3.0
    assert terms.kl_per_dim.tolist() == [2.0, 1.0]


def test_reparameterisation_has_the_right_moments_and_passes_gradients():
    torch.manual_seed(3)
    mu = torch.full((200_000, 1), 1.5, requires_grad=True)
    logvar = torch.full((200_000, 1), math.log(0.25), requires_grad=True)
    z = vae.reparameterize(mu, logvar)
    assert z.mean().item() == pytest.approx(1.5, abs=0.01) and z.std().item() == pytest.approx(0.5, abs=0.01)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))        # dz/dμ = 1


def test_beta_schedules():
    const = vae.BetaSchedule("constant", 4.0)
    warm = vae.BetaSchedule("warmup", 2.0, warmup_steps=100)
    cyc = vae.BetaSchedule("cyclical", 1.0, total_steps=400, cycles=4, ratio=0.5)
    assert const(0) == const(10_000) == 4.0
    assert [warm(s) for s in (0, 50, 100, 500)] == [0.0, 1.0, 2.0, 2.0]
    # four cycles of 100 steps: rising over the first 50, flat at β for the next 50
    assert [cyc(s) for s in (0, 25, 50, 99, 100, 125, 399)] == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="constant, warmup or cyclical"):
        vae.BetaSchedule("sigmoid")


def _log_px_by_quadrature(model, x):
    """log p(x) = log ∫ p(x|z) N(z; 0, 1) dz for a 1-D latent, on a dense grid."""
    grid = torch.linspace(-9, 9, 6001)
    with torch.no_grad():
        log_px_z = model.log_likelihood(x.repeat(len(grid), 1, 1, 1), model.decode(grid[:, None]))
    log_joint = log_px_z + Normal(0.0, 1.0).log_prob(grid)
    return (torch.logsumexp(log_joint, 0) + math.log(grid[1] - grid[0])).item()


def _trained(latent_dim, width, steps, images):
    torch.manual_seed(4)
    model = vae.ConvVAE(image_size=8, latent_dim=latent_dim, width=width)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):                     # a little training: q(z|x) informative but not exact
        vae.training_step(model, images, optimizer, beta=1.0)
    return model.eval()


@pytest.mark.slow
def test_iwae_bound_rises_with_k_to_log_px_by_quadrature():
    """1-D latent, so log p(x) is a 1-D integral: the bound must climb from the ELBO to it."""
    data = vae.binarize(load_dataset("digits", "test", 8).images[:4])
    model = _trained(1, 4, 200, data)
    exact = np.mean([_log_px_by_quadrature(model, x[None]) for x in data])
    torch.manual_seed(5)
    bounds = {k: torch.stack([vae.iwae_log_likelihood(model, data, k, batch=2800) for _ in range(reps)]).mean().item()
              for k, reps in ((1, 400), (10, 200), (100, 50), (5000, 5))}
    assert bounds[1] + 0.05 < bounds[10]                       # visibly tighter than the ELBO
    assert bounds[10] <= bounds[100] + 0.02 <= bounds[5000] + 0.04
    assert bounds[5000] == pytest.approx(exact, abs=0.03) and bounds[5000] <= exact + 0.02


@pytest.mark.slow
def test_iwae_is_at_least_the_elbo_and_tightens_with_k_on_average():
    data = vae.binarize(load_dataset("digits", "test", 8).images[:60])
    model = _trained(4, 8, 300, data)
    torch.manual_seed(6)
    bounds = [vae.iwae_log_likelihood(model, data, k).mean().item() for k in (1, 10, 100, 1000)]
    assert bounds == sorted(bounds) and bounds[-1] - bounds[0] > 0.5, bounds


def test_iwae_k5000_is_batched_and_bits_per_dim():
    torch.manual_seed(6)
    model = vae.ConvVAE(image_size=28, latent_dim=10).eval()
    x = vae.binarize(load_dataset("digits", "test", 28).images[:2])
    estimate = vae.iwae_log_likelihood(model, x, k=5000, batch=500)
    assert estimate.shape == (2,) and torch.isfinite(estimate).all()
    assert vae.bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)


def test_interpolation_linear_and_spherical():
    z0, z1 = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    lin = vae.interpolate(z0, z1, between=10, mode="linear")
    assert lin.shape == (12, 3) and torch.equal(lin[0], z0) and torch.allclose(lin[-1], z1)
    assert torch.allclose(lin[1], z0 + (z1 - z0) / 11)
    sph = vae.interpolate(z0, z1, between=10, mode="spherical")
    assert torch.allclose(sph[0], z0, atol=1e-6) and torch.allclose(sph[-1], z1, atol=1e-5)
    assert torch.allclose(sph.norm(dim=1), torch.full((12,), 3.0), atol=1e-5)   # stays on the sphere
    angles = torch.atan2(sph[:, 1], sph[:, 0])
    assert torch.allclose(angles.diff(), torch.full((11,), math.pi / 2 / 11), atol=1e-5)  # even steps
    assert torch.allclose(vae.interpolate(z0, 2 * z0, mode="spherical"), vae.interpolate(z0, 2 * z0))


def test_traversal_active_units_and_attribute_vectors():
    z = torch.tensor([0.5, -1.0, 2.0])
    grid = vae.traversal_latents(z, [0, 2], torch.tensor([-1.0, 0.0, 1.0]))
    assert grid.shape == (6, 3) and grid[:3, 0].tolist() == [-1.0, 0.0, 1.0] and (grid[:3, 1:] == z[1:]).all()
    assert grid[3:, 2].tolist() == [-1.0, 0.0, 1.0]
    torch.manual_seed(7)
    mu = torch.stack([torch.randn(500), torch.full((500,), 0.3), 0.05 * torch.randn(500)], dim=1)
    assert vae.active_units(mu).tolist() == [True, False, False]
    has = torch.arange(500) % 2 == 0
    mu[has, 1] += 2.0
    assert vae.attribute_vector(mu, has)[1].item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="both with and without"):
        vae.attribute_vector(mu, torch.ones(500, dtype=torch.bool))


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="divisible by 4"):
        vae.ConvVAE(image_size=30)
    with pytest.raises(ValueError, match="bernoulli"):
        vae.ConvVAE(likelihood="poisson")


def test_mig_against_a_brute_force_estimate_and_known_answers():
    from dgm_core.metrics import factor_entropy, mutual_information_gap, mutual_information_matrix

    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, 3, 20_000), rng.integers(0, 8, 20_000)], axis=1)
    # Each factor copied into its own latent, plus a noise latent: perfectly disentangled.
    codes = np.stack([factors[:, 0] + 0.01 * rng.standard_normal(20_000), factors[:, 1] * 1.0,
                      rng.standard_normal(20_000)], axis=1)
    assert mutual_information_gap(codes, factors) > 0.99
    # The same latent twice: no gap for that factor, whatever else happens.
    twice = np.stack([factors[:, 0] * 1.0, factors[:, 0] * 1.0, factors[:, 1] * 1.0], axis=1)
    score, gaps = mutual_information_gap(twice, factors, per_factor=True)
    assert gaps[0] == pytest.approx(0.0, abs=1e-12) and gaps[1] > 0.99 and score == pytest.approx(gaps.mean())
    # One latent carrying both factors (entangled): half the information about each in the best latent.
    mixed = np.stack([factors[:, 0] * 8 + factors[:, 1], rng.standard_normal(20_000)], axis=1)
    assert mutual_information_gap(mixed, factors, bins=24) > 0.99   # 24 bins separate all 24 values
    assert mutual_information_gap(mixed, factors, bins=3) < 0.9      # too few bins lose the second factor
    # The discrete MI itself, against a hand computation from the joint histogram.
    mi = mutual_information_matrix(codes[:, :1], factors[:, :1], bins=20)[0, 0]
    joint = np.histogram2d(np.digitize(codes[:, 0], np.histogram_bin_edges(codes[:, 0], 20)[1:-1]), factors[:, 0],
                           bins=[np.arange(21) - 0.5, np.arange(4) - 0.5])[0] / 20_000
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    assert mi == pytest.approx(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])), rel=1e-9)
    assert factor_entropy(factors)[1] == pytest.approx(math.log(8), abs=1e-3)


# ----------------------------------------------------------- bounded, reproducible IWAE
def _counting_decoder(model):
    """Record the batch size of every decoder call (how many images x samples are decoded at once)."""
    sizes = []
    decode = model.decode

    def counted(z):
        sizes.append(len(z))
        return decode(z)

    model.decode = counted
    return sizes


def test_iwae_decodes_a_bounded_batch_whatever_the_number_of_images_and_k():
    """The training run's final estimate (100 images, k up to 1000) used to decode 100 x 500 samples
    at once (16.9 GB; 100 x 100 at k = 100): every call now stays under a fixed bound, and every
    sample is still decoded."""
    model = vae.ConvVAE(image_size=8, latent_dim=2, width=4).eval()
    sizes = _counting_decoder(model)
    x = vae.binarize(torch.rand(100, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    vae.iwae_log_likelihood(model, x, 100)
    assert max(sizes) <= 4096 and sum(sizes) == 100 * 100
    sizes.clear()
    many = x.repeat(50, 1, 1, 1)                       # 5000 images, k = 1: the bound holds across images too
    assert vae.iwae_log_likelihood(model, many, 1).shape == (5000,)
    assert max(sizes) <= 4096 and sum(sizes) == 5000
    sizes.clear()
    vae.iwae_log_likelihood(model, x[:3], 100, batch=64)    # an explicit, smaller bound is honoured
    assert max(sizes) <= 64 and sum(sizes) == 300


def test_iwae_in_one_batch_matches_an_independent_computation_from_the_same_noise():
    """Oracle: log (1/k) Σ exp(log p(x|z) + log p(z) − log q(z|x)) with torch.distributions, from
    the same ε the estimator draws (one batch, so it draws ε of shape (k, B, L) at once)."""
    model = vae.ConvVAE(image_size=8, latent_dim=3, width=4).eval()
    x = vae.binarize(load_dataset("digits", "test", 8).images[:5])
    k = 40
    got = vae.iwae_log_likelihood(model, x, k, generator=torch.Generator().manual_seed(9), batch=10_000)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        std = (0.5 * logvar).exp()
        z = mu + std * torch.randn(k, *mu.shape, generator=torch.Generator().manual_seed(9))
        logits = model.decode(z.flatten(0, 1)).view(k, *x.shape)
        log_px_z = Bernoulli(logits=logits).log_prob(x.expand(k, *x.shape)).flatten(2).sum(2)
        log_w = log_px_z + Normal(0.0, 1.0).log_prob(z).sum(2) - Normal(mu, std).log_prob(z).sum(2)
        expected = torch.logsumexp(log_w, 0) - math.log(k)
    assert torch.allclose(got, expected, atol=1e-4)
    # Chunked differently, the same estimator (other draws): close on average, as the bound is a mean.
    chunked = torch.stack([vae.iwae_log_likelihood(model, x, k, generator=torch.Generator().manual_seed(s), batch=50)
                           for s in range(20)]).mean()
    assert chunked.item() == pytest.approx(expected.mean().item(), abs=0.5)


def test_iwae_with_a_generator_is_reproducible_and_leaves_the_global_rng_alone():
    model = vae.ConvVAE(image_size=8, latent_dim=2, width=4).eval()
    x = vae.binarize(load_dataset("digits", "test", 8).images[:6])
    state = torch.random.get_rng_state()
    a = vae.iwae_log_likelihood(model, x, 50, generator=torch.Generator().manual_seed(3), batch=32)
    b = vae.iwae_log_likelihood(model, x, 50, generator=torch.Generator().manual_seed(3), batch=32)
    c = vae.iwae_log_likelihood(model, x, 50, generator=torch.Generator().manual_seed(4), batch=32)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)
    # The one-sample ELBO estimate takes a generator as well.
    e1 = vae.elbo_terms(*model(x, generator=torch.Generator().manual_seed(1))[:2]).elbo
    e2 = vae.elbo_terms(*model(x, generator=torch.Generator().manual_seed(1))[:2]).elbo
    assert torch.equal(e1, e2) and torch.equal(torch.random.get_rng_state(), state)


def test_likelihood_estimate_reports_each_chunk_and_stops_when_its_progress_callback_raises():
    """What the page runs: progress after every chunk (done, total decodes); an exception raised by
    the callback (Streamlit's rerun when the user clicks Stop) ends the work after that chunk."""
    model = vae.ConvVAE(image_size=8, latent_dim=2, width=4).eval()
    x = vae.binarize(load_dataset("digits", "test", 8).images[:8])
    assert vae.likelihood_cost(8, 1000, batch=1000) == (8000, 8)          # decodes, chunks
    assert vae.likelihood_cost(32, 5000) == (160_000, math.ceil(160_000 / vae.DECODE_BATCH))
    calls = []
    estimate = vae.likelihood_estimate(model, x, 1000, generator=torch.Generator().manual_seed(0), batch=1000,
                                       progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1000 * (i + 1), 8000) for i in range(8)]
    assert estimate.images == 8 and estimate.k == 1000 and estimate.decodes == 8000
    assert estimate.nll == -estimate.iwae and estimate.bits_per_dim == pytest.approx(estimate.nll / (64 * math.log(2)))
    # The same seed gives the same numbers as the two estimators called in the same order.
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        elbo = vae.elbo_terms(*model(x, generator=g)[:2]).elbo.item()
        per_image = vae.iwae_log_likelihood(model, x, 1000, generator=g, batch=1000).numpy()
    iwae = float(per_image.mean())
    assert estimate.elbo == pytest.approx(elbo, abs=1e-6) and estimate.iwae == pytest.approx(iwae, abs=1e-5)
    # its spread: the sample standard deviation of the 8 per-image bounds over √8 (numpy's, ddof=1)
    assert estimate.iwae_standard_error == pytest.approx(per_image.std(ddof=1) / math.sqrt(8), rel=1e-5)
    assert estimate.iwae >= estimate.elbo - 1.0        # L_1000 is (stochastically) above the ELBO

    class Stop(Exception):
        pass

    def stop_after_two_chunks(done, total):
        if done >= 2000:
            raise Stop

    sizes = _counting_decoder(model)
    with pytest.raises(Stop):
        vae.likelihood_estimate(model, x, 1000, generator=torch.Generator().manual_seed(0), batch=1000,
                                progress=stop_after_two_chunks)
    assert sizes == [8, 1000, 1000]                    # the ELBO's decode, then two chunks, then nothing


def test_quicker_likelihood_settings_are_the_largest_within_the_budget():
    """Brute force: the most images at this k, and the largest offered k at these images, within the budget."""
    ks = [1, 10, 100, 1000, 5000]
    for images in (1, 4, 8, 32):
        for k in ks:
            fewer, smaller = vae.quicker_likelihood_settings(images, k, 20_000, ks)
            assert fewer == max([n for n in range(1, 20_001) if n * k <= 20_000] or [1])
            assert smaller == max([kk for kk in ks if images * kk <= 20_000] or [1])
    assert vae.quicker_likelihood_settings(32, 5000, 20_000, ks) == (4, 100)


def test_beta_seed_summary_gives_the_spread_over_seeds_and_the_lost_factors():
    from types import SimpleNamespace

    def report(mig, gaps, active):
        return SimpleNamespace(mig=mig, mig_per_factor=gaps, active=torch.tensor([True] * active + [False] * (10 - active)))

    names = ["shape", "x"]
    rows = vae_lab.beta_seed_summary({1.0: [report(0.03, [0.02, 0.04], 5), report(0.05, [0.06, 0.04], 8)],
                                  4.0: [report(0.09, [0.0, 0.18], 3)]}, names)
    one, four = rows
    assert one["active_units"] == [5, 8] and one["seeds"] == 2
    assert one["mig_mean"] == pytest.approx(0.04) and (one["mig_min"], one["mig_max"]) == (0.03, 0.05)
    assert one["gaps"] == pytest.approx({"shape": 0.04, "x": 0.04}) and one["lost"] == ["shape", "x"]
    assert four["lost"] == ["shape"] and four["gaps"]["x"] == pytest.approx(0.18)
