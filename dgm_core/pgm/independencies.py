"""The independencies a network implies, and a numerical check of any one of them.

Local Markov property (Koller & Friedman 2009, Def. 3.1): every node is independent of its
non-descendants given its parents, X ⟂ NonDesc(X) \\ Pa(X) | Pa(X).

The numerical check computes, from the CPTs, the largest violation of
P(x | y, z) = P(x | z) over every assignment with P(y, z) > 0. d-separation guarantees a gap
of zero in *every* distribution that factorises over the graph; d-connection only allows
dependence, so particular CPTs can still make the gap zero (an unfaithful distribution).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .elimination import query
from .errors import NetworkError

#: The numerical check builds P(X, Y, Z); beyond this many entries it refuses.
MAX_CHECK_ENTRIES = 2_000_000


@dataclass(frozen=True)
class Independence:
    x: tuple[str, ...]
    y: tuple[str, ...]
    given: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{', '.join(self.x)} ⟂ {', '.join(self.y)}"
        return text + (f" | {', '.join(self.given)}" if self.given else "")


def local_markov(bn) -> list[Independence]:
    statements = []
    for node in bn.nodes:
        parents = bn.parents[node]
        others = [n for n in bn.nodes if n != node and n not in bn.descendants(node) and n not in parents]
        if others:
            statements.append(Independence((node,), tuple(others), tuple(parents)))
    return statements


def pairwise_independencies(bn, given=()) -> list[Independence]:
    """Every pair {x, y} outside Z with x ⟂ y | Z by d-separation (small networks)."""
    given = tuple(given)
    z = set(given)
    free = [n for n in bn.nodes if n not in z]
    return [
        Independence((x,), (y,), given)
        for i, x in enumerate(free)
        for y in free[i + 1:]
        if bn.d_separated(x, y, given)
    ]


@dataclass(frozen=True)
class IndependenceCheck:
    gap: float  # max |P(x | y, z) - P(x | z)|
    assignment: dict[str, str]  # where the gap is largest


def independence_gap(bn, x, y, given=()) -> IndependenceCheck:
    """max over x, y, z with P(y, z) > 0 of |P(x | y, z) - P(x | z)|, computed exactly."""
    xs, ys, zs = ([x] if isinstance(x, str) else list(x)), ([y] if isinstance(y, str) else list(y)), list(given)
    bn._query_sets(xs, ys, zs)  # same validation as d-separation: known, disjoint, non-empty
    variables = xs + ys + zs
    size = int(np.prod([len(bn.states[v]) for v in variables], dtype=float))
    if size > MAX_CHECK_ENTRIES:
        raise NetworkError(
            f"The numerical check needs the joint table of {len(variables)} variables ({size:,} entries), "
            f"more than {MAX_CHECK_ENTRIES:,}: ask about fewer or smaller variables."
        )
    joint = query(bn, variables, {}).values  # axes: X..., Y..., Z...
    nx_, ny = len(xs), len(ys)
    x_axes = tuple(range(nx_))
    y_axes = tuple(range(nx_, nx_ + ny))
    p_yz = joint.sum(axis=x_axes, keepdims=True)
    p_xz = joint.sum(axis=y_axes, keepdims=True)
    p_z = joint.sum(axis=x_axes + y_axes, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(joint / p_yz - p_xz / p_z)
    gap = np.where(np.broadcast_to(p_yz, joint.shape) > 0, gap, 0.0)
    worst = np.unravel_index(int(np.argmax(gap)), gap.shape)
    assignment = {v: bn.states[v][i] for v, i in zip(variables, worst)}
    return IndependenceCheck(float(gap[worst]), assignment)
