"""Approximate inference by sampling: ancestral (forward) sampling and likelihood weighting.

Likelihood weighting (Koller & Friedman 2009, Alg. 12.2) samples every unobserved node from
its CPT in topological order, clamps the observed ones, and weights each sample by the
likelihood of the evidence given its parents:

    w = prod_{E_i in E} P(e_i | pa(E_i)),    P(q | e) ≈ sum_m w_m 1[q_m = q] / sum_m w_m.

The estimate is consistent; its error shrinks like 1/sqrt(effective sample size), which the
error curve below shows against the exact answer. Only the ancestors of the query and the
evidence are sampled: the other nodes cannot change the answer.
"""
from __future__ import annotations

import numpy as np

from .errors import NetworkError, ZeroProbabilityEvidence
from .factor import ProbabilityTable


def _sample_nodes(bn, variables, evidence) -> list[str]:
    keep = set(variables) | set(evidence)
    keep |= bn.ancestors(keep)
    return [n for n in bn.topological_order if n in keep]


def likelihood_weighted_samples(bn, n_samples: int, evidence=None, variables=None, seed: int = 0):
    """Draw ``n_samples`` weighted samples. Returns (samples: node -> int array, weights).

    With no evidence this is plain ancestral sampling and every weight is one.
    """
    if n_samples < 1:
        raise NetworkError("The number of samples must be at least 1.")
    evidence = dict(evidence or {})
    rng = np.random.default_rng(seed)
    nodes = _sample_nodes(bn, variables if variables is not None else bn.nodes, evidence)
    values: dict[str, np.ndarray] = {}
    log_w = np.zeros(n_samples)
    for node in nodes:
        cpt = bn.cpts[node]
        rows = cpt[tuple(values[p] for p in bn.parents[node])] if bn.parents[node] else np.broadcast_to(cpt, (n_samples, cpt.shape[-1]))
        if node in evidence:
            k = bn.states[node].index(evidence[node])
            values[node] = np.full(n_samples, k)
            with np.errstate(divide="ignore"):
                log_w += np.log(rows[:, k])
        else:
            cumulative = np.cumsum(rows, axis=1)
            u = rng.random(n_samples)[:, None] * cumulative[:, -1:]
            values[node] = np.minimum((u >= cumulative).sum(axis=1), cpt.shape[-1] - 1)
    if np.all(np.isneginf(log_w)):
        raise ZeroProbabilityEvidence(
            "Every sample has weight zero: the evidence "
            + ", ".join(f"{k}={v}" for k, v in evidence.items())
            + " has probability zero under this network (or is too unlikely to hit). Change the evidence."
        )
    weights = np.exp(log_w - log_w.max())
    return values, weights


def _estimate(bn, variables, values, weights, upto: int) -> np.ndarray:
    shape = tuple(len(bn.states[v]) for v in variables)
    flat = np.ravel_multi_index(tuple(values[v][:upto] for v in variables), shape)
    table = np.bincount(flat, weights=weights[:upto], minlength=int(np.prod(shape))).reshape(shape)
    total = table.sum()
    return table / total if total > 0 else np.full(shape, np.nan)


def likelihood_weighting(bn, variables, evidence=None, n_samples: int = 10_000, seed: int = 0) -> ProbabilityTable:
    """The likelihood-weighting estimate of P(variables | evidence)."""
    variables = list(variables)
    values, weights = likelihood_weighted_samples(bn, n_samples, evidence, variables, seed)
    estimate = _estimate(bn, variables, values, weights, n_samples)
    if np.isnan(estimate).any():
        raise ZeroProbabilityEvidence("No sample carried any weight: draw more samples or change the evidence.")
    return ProbabilityTable(variables, [bn.states[v] for v in variables], estimate)


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2."""
    return float(weights.sum() ** 2 / (weights**2).sum())


def sampling_error_curve(bn, variables, evidence, exact: ProbabilityTable, sizes, seed: int = 0):
    """Total-variation distance between the estimate and the exact posterior as samples grow.

    One run of max(sizes) samples; the estimate at size n uses its first n samples.
    Returns a list of (n, total variation, effective sample size); a size at which no sample
    has weight yet gives a distance of nan.
    """
    variables = list(variables)
    sizes = sorted(set(int(s) for s in sizes))
    values, weights = likelihood_weighted_samples(bn, sizes[-1], evidence, variables, seed)
    curve = []
    for n in sizes:
        estimate = _estimate(bn, variables, values, weights, n)
        tv = 0.5 * float(np.abs(estimate - exact.values).sum())
        w = weights[:n]
        curve.append((n, tv, effective_sample_size(w) if w.sum() > 0 else 0.0))
    return curve
