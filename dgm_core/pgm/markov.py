"""From a Bayesian network to a Markov network (an undirected graphical model).

Moralisation (Koller & Friedman 2009, Def. 4.16) joins the parents of every node and drops
the directions. Every family {X} ∪ pa(X) is then a clique, so each CPT can be assigned to a
maximal clique that contains it, and the joint factorises over the maximal cliques C:

    P(x) = prod_C psi_C(x_C),    psi_C = product of the CPTs assigned to C   (Z = 1).

Separation in the moral graph implies d-separation in the network (Prop. 4.10), but not the
other way round: a v-structure A -> C <- B makes A ⟂ B, and moralisation marries A and B,
so that independence is lost.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .errors import NetworkError
from .factor import Factor, product


def moral_graph(bn) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(bn.nodes)
    graph.add_edges_from(bn.edges)
    for node in bn.nodes:
        pa = bn.parents[node]
        graph.add_edges_from((a, b) for i, a in enumerate(pa) for b in pa[i + 1:])
    return graph


def separated(graph: nx.Graph, xs, ys, zs) -> bool:
    """Are X and Y separated by Z in an undirected graph (no path from X to Y avoiding Z)?"""
    blocked = set(zs)
    targets = set(ys)
    seen = set(xs)
    stack = list(seen)
    while stack:
        for w in graph.adj[stack.pop()]:
            if w in targets:
                return False
            if w not in seen and w not in blocked:
                seen.add(w)
                stack.append(w)
    return True


@dataclass
class MarkovNetwork:
    graph: nx.Graph
    cliques: list[tuple[str, ...]]
    potentials: list[Factor]  # potentials[i] is psi over cliques[i]
    assignment: dict[str, tuple[str, ...]]  # node -> the clique its CPT was assigned to

    def separated(self, x, y, given=()) -> bool:
        xs, ys, zs = ([x] if isinstance(x, str) else list(x)), ([y] if isinstance(y, str) else list(y)), list(given)
        for n in xs + ys + zs:
            if n not in self.graph:
                raise NetworkError(f"Unknown variable {n!r}.")
        return separated(self.graph, xs, ys, zs)

    def joint(self) -> Factor:
        """The product of all clique potentials (small networks only: it is the full joint)."""
        return product(self.potentials)


def to_markov_network(bn) -> MarkovNetwork:
    graph = moral_graph(bn)
    cliques = sorted((tuple(sorted(c, key=bn.index.get)) for c in nx.find_cliques(graph)), key=lambda c: (-len(c), c))
    assigned: dict[tuple[str, ...], list[Factor]] = {c: [] for c in cliques}
    assignment = {}
    for node in bn.nodes:
        family = set(bn.parents[node]) | {node}
        clique = next(c for c in cliques if family <= set(c))  # moralisation makes the family a clique
        assigned[clique].append(Factor(bn.parents[node] + (node,), bn.cpts[node]))
        assignment[node] = clique
    potentials = []
    for c in cliques:
        psi = product(assigned[c]) if assigned[c] else Factor((), _ones())
        # Spread psi over the whole clique so every potential has the clique's scope, in clique order.
        missing = [v for v in c if v not in psi.variables]
        for v in missing:
            psi = product([psi, Factor((v,), _ones(len(bn.states[v])))])
        psi = Factor(c, psi.values.transpose([psi.variables.index(v) for v in c]))
        potentials.append(psi)
    return MarkovNetwork(graph, cliques, potentials, assignment)


def _ones(k: int | None = None):
    import numpy as np

    return np.ones(()) if k is None else np.ones(k)


def lost_independencies(bn, given=()):
    """Pairs (x, y) d-separated given Z in the network but not separated in the moral graph."""
    graph = moral_graph(bn)
    z = set(given)
    lost = []
    for i, x in enumerate(bn.nodes):
        for y in bn.nodes[i + 1:]:
            if x in z or y in z:
                continue
            if bn.d_separated(x, y, z) and not separated(graph, [x], [y], z):
                lost.append((x, y))
    return lost
