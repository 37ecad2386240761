"""Exact inference by variable elimination (Koller & Friedman 2009, Alg. 9.1 and 9.4).

    P(Q | e) ∝ sum_{h} prod_i P(x_i | pa(x_i)) |_{E=e}

The sum over the hidden variables h is pushed inside the product one variable at a time:
multiply the factors that mention it, sum it out, put the result back. The order is chosen
greedily (min-fill: the variable whose elimination adds the fewest new edges to the
interaction graph; or min-degree), which keeps the intermediate factors small. The full
joint is never built.

Two prunings come first: only the ancestors of the query and the evidence matter (every
other node is barren and sums to one), and evidence is applied by slicing the CPTs.
Each intermediate factor is rescaled to a maximum of one, and the scales are kept in log
space, so that log P(e) stays finite for long evidence lists.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import NetworkError, ZeroProbabilityEvidence
from .factor import Factor, ProbabilityTable, product, sum_out

ORDERS = ("min-fill", "min-degree")


def _relevant_factors(bn, variables, evidence) -> list[Factor]:
    keep = set(variables) | set(evidence)
    keep |= bn.ancestors(keep) if keep else set()
    observed = {v: bn.states[v].index(s) for v, s in evidence.items()}
    factors = []
    for node in bn.nodes:
        if node in keep:
            f = Factor(bn.parents[node] + (node,), bn.cpts[node]).reduce(observed)
            factors.append(f)
    return factors


def _pick(neighbours: dict[str, set[str]], order: str) -> str:
    def fill_in(v):
        nb = list(neighbours[v])
        return sum(1 for i, a in enumerate(nb) for b in nb[i + 1:] if b not in neighbours[a])

    cost = fill_in if order == "min-fill" else (lambda v: len(neighbours[v]))
    return min(neighbours, key=lambda v: (cost(v), len(neighbours[v]), v))


def eliminate(factors: list[Factor], hidden, order: str = "min-fill") -> tuple[list[Factor], float, list[str]]:
    """Sum the ``hidden`` variables out of the product of ``factors``.

    Returns the remaining factors, the log of the scale factored out of them, and the
    elimination order used.
    """
    if order not in ORDERS:
        raise NetworkError(f"Unknown elimination order {order!r}: use one of {', '.join(ORDERS)}.")
    hidden = set(hidden)
    neighbours: dict[str, set[str]] = {v: set() for v in hidden}
    for f in factors:
        for v in f.variables:
            if v in hidden:
                neighbours[v].update(u for u in f.variables if u != v and u in hidden)
    log_scale, used = 0.0, []
    while neighbours:
        var = _pick(neighbours, order)
        used.append(var)
        touching = [f for f in factors if var in f.variables]
        factors = [f for f in factors if var not in f.variables]
        new = sum_out(product(touching), {var})
        peak = float(new.values.max()) if new.values.size else 0.0
        if peak > 0:
            new = Factor(new.variables, new.values / peak)
            log_scale += math.log(peak)
        factors.append(new)
        nb = neighbours.pop(var)
        for a in nb:
            neighbours[a].discard(var)
            neighbours[a].update(nb - {a})
    return factors, log_scale, used


def _joint_table(bn, variables, evidence, order):
    factors = _relevant_factors(bn, variables, evidence)
    hidden = {v for f in factors for v in f.variables} - set(variables) - set(evidence)
    factors, log_scale, _ = eliminate(factors, hidden, order)
    joint = product(factors) if factors else Factor((), np.array(1.0))
    # Put the axes in the order the caller asked for (a variable with no factor left is impossible:
    # every query variable keeps its own CPT until the end).
    values = np.transpose(joint.values, [joint.variables.index(v) for v in variables]) if variables else joint.values
    return values, log_scale


def _describe(evidence) -> str:
    return ", ".join(f"{k}={v}" for k, v in evidence.items())


def query(bn, variables, evidence, order: str = "min-fill") -> ProbabilityTable:
    """The exact posterior P(variables | evidence) as a :class:`ProbabilityTable`."""
    if not variables:
        raise NetworkError("Choose at least one query variable.")
    clash = set(variables) & set(evidence)
    if clash:
        raise NetworkError(
            f"{', '.join(sorted(clash))} is both queried and observed: remove it from the query or the evidence."
        )
    values, _ = _joint_table(bn, variables, evidence, order)
    total = values.sum()
    if not total > 0:
        raise ZeroProbabilityEvidence(
            f"The evidence {_describe(evidence)} has probability zero under this network, so the "
            "posterior is undefined: change an observed state or the CPTs."
        )
    return ProbabilityTable(variables, [bn.states[v] for v in variables], values / total)


def log_probability_of_evidence(bn, evidence, order: str = "min-fill") -> float:
    """log P(e) = log sum_h prod_i P(x_i | pa(x_i)) |_{E=e}; -inf for impossible evidence."""
    if not evidence:
        return 0.0
    values, log_scale = _joint_table(bn, [], evidence, order)
    total = float(values)
    return log_scale + math.log(total) if total > 0 else -math.inf


def probability_of_evidence(bn, evidence, order: str = "min-fill") -> float:
    return math.exp(log_probability_of_evidence(bn, evidence, order))
