"""Mean-field variational inference for the hidden nodes of a Bayesian network given evidence.

The posterior P(h | e) is approximated by a fully factorised q(h) = prod_j q_j(h_j), fitted by
coordinate ascent on the evidence lower bound (Koller & Friedman 2009, §11.5; Blei et al. 2017):

    ELBO(q) = E_q[log P(h, e)] + sum_j H(q_j) = log P(e) - KL(q || P(h | e)) <= log P(e),
    log q_j(h_j) = E_{q_-j}[log P(h, e)] + const   (only the factors that mention h_j matter).

Each coordinate update maximises the ELBO in q_j exactly, so the ELBO never decreases; the
gap log P(e) - ELBO is exactly KL(q || posterior). On near-deterministic CPTs the objective
has many local optima, so the result depends on the starting point: run several restarts.

Zeros in the CPTs are replaced by 1e-300 before taking logs (so that 0 * log 0 = 0 where q
puts no mass); the change to any probability is below 1e-300.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .elimination import log_probability_of_evidence
from .errors import NetworkError, ZeroProbabilityEvidence
from .factor import Factor, ProbabilityTable

_TINY = 1e-300


@dataclass
class MeanFieldResult:
    q: dict[str, np.ndarray]  # hidden node -> q_j over its states
    elbo_history: list[float]  # the ELBO after initialisation and after each sweep
    log_evidence: float  # exact log P(e) by variable elimination
    seed: int
    converged: bool = field(default=False)

    @property
    def elbo(self) -> float:
        return self.elbo_history[-1]

    @property
    def kl_to_posterior(self) -> float:
        """KL(q || P(h | e)) = log P(e) - ELBO (exact, since both terms are exact)."""
        return self.log_evidence - self.elbo

    def marginal(self, bn, variables) -> ProbabilityTable:
        """q over a few hidden variables: the product of their factors q_j."""
        values = np.ones(())
        for v in variables:
            if v not in self.q:
                raise NetworkError(f"{v!r} is not a hidden variable of this mean-field run.")
            values = np.multiply.outer(values, self.q[v])
        return ProbabilityTable(variables, [bn.states[v] for v in variables], values)


class MeanField:
    """Coordinate-ascent mean field on the ancestral sub-network of the query and evidence."""

    def __init__(self, bn, evidence, variables=None):
        self.bn = bn
        self.evidence = dict(evidence or {})
        keep = set(self.evidence) | set(variables if variables is not None else bn.nodes)
        keep |= bn.ancestors(keep)
        observed = {v: bn.states[v].index(s) for v, s in self.evidence.items()}
        self.hidden = [n for n in bn.topological_order if n in keep and n not in observed]
        self.log_factors: list[Factor] = []
        for node in bn.nodes:
            if node in keep:
                f = Factor(bn.parents[node] + (node,), np.log(np.maximum(bn.cpts[node], _TINY))).reduce(observed)
                self.log_factors.append(f)
        # Only the factors that mention h_j enter its update: its own CPT and its children's.
        self.touching = {h: [f for f in self.log_factors if h in f.variables] for h in self.hidden}
        self.log_evidence = log_probability_of_evidence(bn, self.evidence)
        if self.log_evidence == -math.inf:
            raise ZeroProbabilityEvidence(
                "The evidence " + ", ".join(f"{k}={v}" for k, v in self.evidence.items())
                + " has probability zero under this network: change an observed state or the CPTs."
            )

    @staticmethod
    def _expected(f: Factor, q, skip=None) -> np.ndarray:
        """E over q of a log-factor, for every state of ``skip`` (or a scalar if skip is None)."""
        operands = [f.values, list(range(len(f.variables)))]
        for axis, v in enumerate(f.variables):
            if v != skip:
                operands += [q[v], [axis]]
        out = [f.variables.index(skip)] if skip is not None else []
        return np.einsum(*operands, out)

    def elbo(self, q) -> float:
        energy = sum(float(self._expected(f, q)) for f in self.log_factors)
        entropy = -sum(float(np.sum(p[p > 0] * np.log(p[p > 0]))) for p in q.values())
        return energy + entropy

    def initial_q(self, seed: int) -> dict[str, np.ndarray]:
        """Seed 0 starts from uniform factors; other seeds from random Dirichlet(1) draws."""
        rng = np.random.default_rng(seed)
        q = {}
        for h in self.hidden:
            k = len(self.bn.states[h])
            q[h] = np.full(k, 1.0 / k) if seed == 0 else rng.dirichlet(np.ones(k))
        return q

    def run(self, seed: int = 0, max_sweeps: int = 100, tolerance: float = 1e-9) -> MeanFieldResult:
        q = self.initial_q(seed)
        history = [self.elbo(q)]
        converged = False
        for _ in range(max_sweeps):
            for h in self.hidden:
                logits = sum(self._expected(f, q, skip=h) for f in self.touching[h])
                logits = logits - logits.max()
                p = np.exp(logits)
                q[h] = p / p.sum()
            history.append(self.elbo(q))
            if abs(history[-1] - history[-2]) < tolerance:
                converged = True
                break
        return MeanFieldResult(q, history, self.log_evidence, seed, converged)


def mean_field(bn, evidence=None, variables=None, restarts: int = 1, max_sweeps: int = 100) -> list[MeanFieldResult]:
    """Run mean field from ``restarts`` starting points (seed 0 is uniform); best ELBO first."""
    if restarts < 1:
        raise NetworkError("Run at least one restart.")
    solver = MeanField(bn, evidence, variables)
    results = [solver.run(seed, max_sweeps) for seed in range(restarts)]
    return sorted(results, key=lambda r: -r.elbo)
