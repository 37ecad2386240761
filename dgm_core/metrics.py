"""Metrics shared by the labs.

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
