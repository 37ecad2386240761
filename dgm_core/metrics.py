"""Metrics shared by the labs: MIG for disentanglement, the Fréchet distance for samples.

`mutual_information_gap`: MIG (Chen et al., 2018, "Isolating Sources of Disentanglement in
VAEs", eq. 6): for each ground-truth factor v_k, the gap between the two latents that carry the
most information about it, normalised by the factor's entropy, averaged over factors:

    MIG = (1/K) Σ_k (I(z_j*; v_k) − max_{j ≠ j*} I(z_j; v_k)) / H(v_k),  j* = argmax_j I(z_j; v_k)

estimated as in Locatello et al. (2019): latent means discretised into equal-width bins,
discrete mutual information from scikit-learn.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score


def _discretize(values: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins per column; a constant column becomes a single bin."""
    out = np.zeros(values.shape, dtype=np.int64)
    for j in range(values.shape[1]):
        col = values[:, j]
        edges = np.histogram_bin_edges(col, bins=bins)
        out[:, j] = np.digitize(col, edges[1:-1])
    return out


def mutual_information_matrix(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> np.ndarray:
    """I(z_j; v_k) in nats for every latent j and factor k: (L, K). Factors must be discrete labels."""
    z = _discretize(np.asarray(codes, dtype=np.float64), bins)
    v = np.asarray(factors)
    return np.array([[mutual_info_score(v[:, k], z[:, j]) for k in range(v.shape[1])] for j in range(z.shape[1])])


def factor_entropy(factors: np.ndarray) -> np.ndarray:
    """H(v_k) in nats for each discrete factor column."""
    return np.array([mutual_info_score(col, col) for col in np.asarray(factors).T])


def mutual_information_gap(codes: np.ndarray, factors: np.ndarray, bins: int = 20,
                           per_factor: bool = False):
    """MIG in [0, 1] of latent codes (N, L) against discrete factors (N, K); with `per_factor`,
    also the gap of each factor (K,). Needs at least two latent dimensions."""
    codes, factors = np.asarray(codes), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError("codes (N, L) and factors (N, K) must be 2-D with the same N")
    if codes.shape[1] < 2:
        raise ValueError("MIG needs at least two latent dimensions")
    mi = mutual_information_matrix(codes, factors, bins)
    top2 = np.sort(mi, axis=0)[::-1][:2]
    entropy = factor_entropy(factors)
    gaps = np.where(entropy > 0, (top2[0] - top2[1]) / np.where(entropy > 0, entropy, 1), 0.0)
    return (float(gaps.mean()), gaps) if per_factor else float(gaps.mean())


# ----------------------------------------------------------------------- Fréchet distance
def _as_features(name: str, x) -> np.ndarray:
    x = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be an (N, d) array with N ≥ 2; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """tr (Σa Σb)^{1/2} = Σ_i √λ_i over the eigenvalues λ_i of Σa Σb.

    With Σa = L Lᵀ, Σa Σb = L (Lᵀ Σb L) L⁻¹ is similar to the symmetric PSD matrix Lᵀ Σb L, so the
    λ_i are real and non-negative and come from `eigvalsh` of that matrix: no general (Schur)
    matrix square root. L is Σa's Cholesky factor when Σa is positive definite, else its
    symmetric square root from `eigh` (a singular Σa, e.g. fewer samples than dimensions).
    Round-off negatives are clipped to 0."""
    try:
        factor = np.linalg.cholesky(cov_a)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov_a)
        factor = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eigenvalues = np.linalg.eigvalsh(factor.T @ cov_b @ factor)
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet_distance_from_moments(mean_a, cov_a, mean_b, cov_b) -> float:
    """d² = |μa − μb|² + tr Σa + tr Σb − 2 tr (Σa Σb)^{1/2}, the squared Fréchet (2-Wasserstein)
    distance between N(μa, Σa) and N(μb, Σb) (Dowson & Landau, 1982), in float64."""
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.atleast_2d(np.asarray(cov_a, np.float64)), np.atleast_2d(np.asarray(cov_b, np.float64))
    diff = mean_a - mean_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * _trace_sqrt_product(cov_a, cov_b)
    return max(float(value), 0.0)


def frechet_distance(features_a, features_b) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (N, d) — FID when the
    features are Inception-V3 pool features (Heusel et al., 2017, eq. 6).

    With fewer samples than dimensions (min(Na, Nb) < d) the covariances are singular; then the
    non-zero eigenvalues of Σa Σb are computed exactly as the squared singular values of
    Xa Xbᵀ / √((Na − 1)(Nb − 1)) (Xa, Xb centred), an Na × Nb matrix: Σa Σb = Xaᵀ Xa Xbᵀ Xb / c
    has the same non-zero eigenvalues as (Xa Xbᵀ)(Xa Xbᵀ)ᵀ / c. So tr (Σa Σb)^{1/2} is the nuclear
    norm of Xa Xbᵀ / √c, without forming a d × d matrix at all.
    """
    a, b = _as_features("features_a", features_a), _as_features("features_b", features_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two feature sets have different dimensions: {a.shape[1]} and {b.shape[1]}")
    mean_a, mean_b = a.mean(0), b.mean(0)
    if min(len(a), len(b)) >= a.shape[1]:
        cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
        return frechet_distance_from_moments(mean_a, cov_a, mean_b, cov_b)
    xa, xb = a - mean_a, b - mean_b
    c = (len(a) - 1) * (len(b) - 1)
    trace_sqrt = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / np.sqrt(c)
    trace_a = (xa * xa).sum() / (len(a) - 1)
    trace_b = (xb * xb).sum() / (len(b) - 1)
    diff = mean_a - mean_b
    return max(float(diff @ diff + trace_a + trace_b - 2 * trace_sqrt), 0.0)


def energy_distance(a, b) -> float:
    """Székely's energy distance between two samples (V-statistic over all pairs):

        D²(P, Q) = 2 E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖,   X, X′ ~ P, Y, Y′ ~ Q,

    zero exactly when P = Q, with no kernel or bandwidth to choose (Székely & Rizzo, 2013). Returns D², in the
    data's units of length; scipy.stats.energy_distance gives D for one-dimensional samples."""
    import torch

    x = torch.as_tensor(np.asarray(a, dtype=np.float64)).reshape(len(a), -1)
    y = torch.as_tensor(np.asarray(b, dtype=np.float64)).reshape(len(b), -1)
    if len(x) < 2 or len(y) < 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"energy distance needs two samples of at least 2 points in one dimension; got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    cross = torch.cdist(x, y).mean()
    return float(2 * cross - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())
