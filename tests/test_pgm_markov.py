"""Markov networks: moralisation and separation against networkx; the factorisation by enumeration."""
import itertools
import random

import networkx as nx
import numpy as np

from dgm_core.pgm import BayesianNetwork, load_example, lost_independencies, moral_graph, to_markov_network
from dgm_core.pgm.markov import separated

from .oracles import brute_force_joint, random_dag_edges, random_network


def _brute_force_maximal_cliques(graph):
    nodes = list(graph)
    cliques = [set(c) for r in range(1, len(nodes) + 1) for c in itertools.combinations(nodes, r)
               if all(graph.has_edge(a, b) for a, b in itertools.combinations(c, 2))]
    return {frozenset(c) for c in cliques if not any(c < d for d in cliques)}


def test_moralisation_cliques_and_separation_against_networkx():
    rng = random.Random(5)
    for _ in range(200):
        n = rng.randint(2, 9)
        bn = BayesianNetwork.from_edges(random_dag_edges(rng, n, 0.4), nodes=[f"v{i}" for i in range(n)])
        g = nx.DiGraph(bn.edges)
        g.add_nodes_from(bn.nodes)
        ours = moral_graph(bn)
        assert nx.utils.graphs_equal(ours, nx.moral_graph(g))
        mn = to_markov_network(bn)
        assert {frozenset(c) for c in mn.cliques} == _brute_force_maximal_cliques(ours)
        x, y = rng.sample(bn.nodes, 2)
        z = [v for v in bn.nodes if v not in (x, y) and rng.random() < 0.4]
        cut = ours.subgraph([v for v in bn.nodes if v not in z])
        assert separated(ours, [x], [y], z) == (not nx.has_path(cut, x, y))
        if mn.separated(x, y, z):  # separation in the moral graph implies d-separation
            assert bn.d_separated(x, y, z)


def test_clique_potentials_multiply_to_the_joint():
    rng = random.Random(9)
    for _ in range(30):
        bn = random_network(rng, rng.randint(2, 6))
        joint = to_markov_network(bn).joint()
        values = np.transpose(joint.values, [joint.variables.index(v) for v in bn.nodes])
        assert np.allclose(values, brute_force_joint(bn), atol=1e-12)


def test_v_structure_loses_an_independence():
    bn = load_example("collider")
    assert lost_independencies(bn) == [("Burglary", "Earthquake")]
    assert to_markov_network(bn).cliques == [("Burglary", "Earthquake", "Alarm")]
    assert lost_independencies(load_example("chain")) == []
