"""Independent oracles for the tests: random networks and brute-force enumeration of the joint.

Nothing here calls the inference code under test; the joint is the product of CPT entries,
read straight from the arrays.
"""
from __future__ import annotations

import itertools
import random

import numpy as np

from dgm_core.pgm import BayesianNetwork


def random_dag_edges(rng: random.Random, n: int, p: float) -> list[tuple[str, str]]:
    order = list(range(n))
    rng.shuffle(order)
    return [(f"v{order[i]}", f"v{order[j]}") for i in range(n) for j in range(i + 1, n) if rng.random() < p]


def random_network(rng: random.Random, n: int, p: float = 0.4, max_states: int = 3, zeros: bool = False) -> BayesianNetwork:
    edges = random_dag_edges(rng, n, p)
    nodes = [f"v{i}" for i in range(n)]
    states = {v: [f"s{k}" for k in range(rng.randint(2, max_states))] for v in nodes}
    parents = {v: [a for a, b in edges if b == v] for v in nodes}
    np_rng = np.random.default_rng(rng.randrange(2**32))
    cpts = {}
    for v in nodes:
        shape = tuple(len(states[p]) for p in parents[v]) + (len(states[v]),)
        table = np_rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]) if shape[:-1] else np_rng.dirichlet(np.ones(shape[-1]))
        if zeros:
            table = np.where(np_rng.random(shape) < 0.15, 0.0, table)
            table[..., 0] += (table.sum(-1) == 0)  # keep every row a distribution
            table = table / table.sum(-1, keepdims=True)
        cpts[v] = table
    return BayesianNetwork(states, parents, cpts)


def brute_force_joint(bn) -> np.ndarray:
    """P(x_1..x_n) for every full assignment, one axis per node in bn.nodes order."""
    shape = tuple(len(bn.states[v]) for v in bn.nodes)
    joint = np.zeros(shape)
    for assignment in itertools.product(*(range(k) for k in shape)):
        value = dict(zip(bn.nodes, assignment))
        p = 1.0
        for v in bn.nodes:
            p *= bn.cpts[v][tuple(value[u] for u in bn.parents[v]) + (value[v],)]
        joint[assignment] = p
    return joint


def brute_force_posterior(bn, variables, evidence) -> np.ndarray:
    joint = brute_force_joint(bn)
    index = tuple(bn.states[v].index(evidence[v]) if v in evidence else slice(None) for v in bn.nodes)
    reduced = joint[index]
    remaining = [v for v in bn.nodes if v not in evidence]
    summed = reduced.sum(axis=tuple(i for i, v in enumerate(remaining) if v not in variables))
    kept = [v for v in remaining if v in variables]
    summed = np.transpose(summed, [kept.index(v) for v in variables])
    return summed / summed.sum()
