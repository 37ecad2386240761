"""dgm_core.metrics.frechet_distance against closed forms, scipy.linalg.sqrtm (pytorch-fid's route)
and torch.linalg.eigvals (torchmetrics' route)."""
import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from dgm_core.metrics import frechet_distance, frechet_distance_from_moments


def _with_exact_moments(rng, n, mean, cov_sqrt):
    """n samples whose sample mean and covariance are exactly `mean` and cov_sqrt @ cov_sqrtᵀ."""
    d = len(mean)
    z = rng.standard_normal((n, d))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(z, rowvar=False)))).T    # sample covariance exactly I
    return z @ cov_sqrt.T + mean


def test_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(0)
    d = 6
    mean_a, mean_b = rng.normal(size=d), rng.normal(size=d)
    var_a, var_b = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    a = _with_exact_moments(rng, 4000, mean_a, np.diag(np.sqrt(var_a)))
    b = _with_exact_moments(rng, 3000, mean_b, np.diag(np.sqrt(var_b)))
    # For commuting covariances d² = |Δμ|² + Σ (√a_i − √b_i)².
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_closed_form_in_one_dimension_and_for_rotated_gaussians():
    rng = np.random.default_rng(1)
    a = _with_exact_moments(rng, 1000, np.array([1.0]), np.array([[2.0]]))
    b = _with_exact_moments(rng, 1000, np.array([-0.5]), np.array([[0.5]]))
    assert frechet_distance(a, b) == pytest.approx(1.5 ** 2 + 1.5 ** 2, rel=1e-10)
    # Rotating both sets by the same orthogonal matrix changes nothing.
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    x = rng.normal(size=(800, 5)) * [1, 2, 3, 0.5, 0.1]
    y = rng.normal(size=(700, 5)) + 0.3
    assert frechet_distance(x @ q, y @ q) == pytest.approx(frechet_distance(x, y), rel=1e-10)


def _scipy_reference(a, b):
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    diff = a.mean(0) - b.mean(0)
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(sqrtm(s1 @ s2).real)


@pytest.mark.parametrize("n, d", [(400, 16), (2000, 128), (600, 256)])
def test_agrees_with_scipy_sqrtm_to_1e6_relative(n, d):
    rng = np.random.default_rng(d)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    a = rng.normal(size=(n, d)) @ mix
    b = rng.normal(size=(n, d)) @ (mix + 0.2 * rng.normal(size=(d, d)) / np.sqrt(d)) + 0.05
    assert frechet_distance(a, b) == pytest.approx(_scipy_reference(a, b), rel=1e-6)


@pytest.mark.parametrize("n_a, n_b, d", [(50, 80, 256), (200, 200, 512), (300, 40, 64)])
def test_fewer_samples_than_dimensions_is_stable(n_a, n_b, d):
    """Singular covariances: the Gram route agrees with torch's eigvals route in float64 and with
    the symmetric-eigen route on the moments, and stays finite and non-negative."""
    rng = np.random.default_rng(n_a + d)
    a = rng.normal(size=(n_a, d)) * np.linspace(0.1, 2, d)
    b = rng.normal(size=(n_b, d)) + 0.1
    ours = frechet_distance(a, b)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = torch.linalg.eigvals(torch.tensor(s1) @ torch.tensor(s2)).sqrt().real.sum().item()
    diff = a.mean(0) - b.mean(0)
    torch_route = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * eig
    assert np.isfinite(ours) and ours > 0
    assert ours == pytest.approx(torch_route, rel=1e-6)
    # The d x d route takes square roots of round-off-sized eigenvalues: close, but less exact here.
    assert ours == pytest.approx(frechet_distance_from_moments(a.mean(0), s1, b.mean(0), s2), rel=1e-6)


def test_a_set_against_itself_is_zero_and_noise_makes_it_grow():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 32)) @ rng.normal(size=(32, 32))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8 * np.trace(np.cov(x, rowvar=False)))
    noise = rng.normal(size=x.shape)
    distances = [frechet_distance(x, x + s * noise) for s in (0.1, 0.3, 1.0, 3.0)]
    assert distances == sorted(distances) and distances[0] > 0
    assert frechet_distance(x, x[::-1] + 1.0) == pytest.approx(frechet_distance(x[::-1] + 1.0, x), rel=1e-10)


def test_accepts_tensors_and_refuses_bad_input():
    x = torch.randn(30, 4)
    assert frechet_distance(x, x + 1) == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(ValueError, match="different dimensions: 4 and 5"):
        frechet_distance(x, torch.randn(30, 5))
    with pytest.raises(ValueError, match=r"N ≥ 2"):
        frechet_distance(x[:1], x)
    with pytest.raises(ValueError, match="NaN or infinite"):
        frechet_distance(x, torch.full((30, 4), float("nan")))
