"""Fréchet distance on 2048-dimensional features (the size of Inception-V3's pool features):
dgm_core.metrics against pytorch-fid's route (scipy.linalg.sqrtm of Σa Σb) and torchmetrics'
route (torch.linalg.eigvals of Σa Σb), all on the same features in the same run, in float64.

Two cases: N = 5000 per set (more samples than dimensions: ours takes the d x d symmetric-eigen
route, timed from the moments like the references) and N = 1000 (fewer samples than dimensions:
ours works from the features through an N x N matrix; the references get the moments for free).
Prints times, ratios and the values, which must agree.

    python -m benchmarks.fid [--dim 2048] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from dgm_core.metrics import frechet_distance, frechet_distance_from_moments


def pytorch_fid_route(mu1, s1, mu2, s2) -> float:
    from pytorch_fid.fid_score import calculate_frechet_distance

    return float(calculate_frechet_distance(mu1, s1, mu2, s2))


def torchmetrics_route(mu1, s1, mu2, s2) -> float:
    from torchmetrics.image.fid import _compute_fid

    t = [torch.as_tensor(x, dtype=torch.float64) for x in (mu1, s1, mu2, s2)]
    return float(_compute_fid(*t))


def timed(fn, repeats: int, *args) -> tuple[float, float]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def features(n: int, dim: int, seed: int) -> np.ndarray:
    """Correlated, non-negative features with a decaying spectrum, like pooled CNN activations."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return np.maximum(rng.normal(size=(n, dim)) * np.geomspace(1, 0.01, dim) @ basis + 0.3, 0)


def compare(n: int, dim: int, repeats: int) -> dict:
    """Seconds and values of ours and both references on the same two sets of n features."""
    a, b = features(n, dim, 0), features(n, dim, 1) * 1.05
    moments = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    if n >= dim:
        ours_t, ours = timed(frechet_distance_from_moments, repeats, *moments)
        label = "ours (moments, Cholesky + eigvalsh)"
    else:
        ours_t, ours = timed(frechet_distance, repeats, a, b)
        label = "ours (features, N x N Gram SVD)"
    scipy_t, scipy_v = timed(pytorch_fid_route, repeats, *moments)
    tm_t, tm_v = timed(torchmetrics_route, repeats, *moments)
    assert abs(ours - scipy_v) <= 1e-4 * abs(scipy_v), (ours, scipy_v)
    return {"label": label, "ours": (ours_t, ours), "pytorch-fid": (scipy_t, scipy_v), "torchmetrics": (tm_t, tm_v)}


def rows(quick: bool = False) -> list[dict]:
    """The table rows of `python -m benchmarks`: ms per Fréchet distance, ours against each reference."""
    dim, sizes, repeats = (256, (1000, 100), 1) if quick else (2048, (5000, 1000), 3)
    out = []
    for n in sizes:
        c = compare(n, dim, repeats)
        for name in ("pytorch-fid", "torchmetrics"):
            out.append({"benchmark": "fid", "measure": f"Fréchet distance, {n:,} vs {n:,} features of {dim} dims",
                        "ours": c["ours"][0] * 1000, "reference": c[name][0] * 1000, "unit": "ms",
                        "reference_name": name, "ratio": c[name][0] / c["ours"][0]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"Fréchet distance, d = {args.dim}, median of {args.repeats}, torch threads {torch.get_num_threads()}")
    for n in (5000, 1000):
        c = compare(n, args.dim, args.repeats)
        (ours_t, ours), (scipy_t, scipy_v), (tm_t, tm_v) = c["ours"], c["pytorch-fid"], c["torchmetrics"]
        print(f"N = {n} per set")
        print(f"  {c['label']:34s} {ours_t * 1000:9.1f} ms   value {ours:.6f}")
        print(f"  {'pytorch-fid (scipy sqrtm)':34s} {scipy_t * 1000:9.1f} ms   value {scipy_v:.6f}   ours is {scipy_t / ours_t:5.1f}x faster")
        print(f"  {'torchmetrics (torch eigvals)':34s} {tm_t * 1000:9.1f} ms   value {tm_v:.6f}   ours is {tm_t / ours_t:5.1f}x faster")
        print(f"  relative difference to scipy: {abs(ours - scipy_v) / scipy_v:.2e}")


if __name__ == "__main__":
    main()
