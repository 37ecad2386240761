"""d-separation against networkx.is_d_separator on thousands of random DAGs and queries."""
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgm_core.pgm import BayesianNetwork, NetworkError, load_example
from dgm_core.pgm.dseparation import classify_trail

from .oracles import random_dag_edges


def _random_query(rng, bn):
    nodes = list(bn.nodes)
    rng.shuffle(nodes)
    nx_ = rng.randint(1, 2)
    ny = rng.randint(1, 2)
    xs, ys, rest = nodes[:nx_], nodes[nx_:nx_ + ny], nodes[nx_ + ny:]
    zs = [v for v in rest if rng.random() < 0.3]
    # Bias toward observed descendants of colliders: observe a child of a node with two parents.
    colliders = [v for v in rest if len(bn.parents[v]) >= 2 and v not in zs]
    if colliders and rng.random() < 0.5:
        c = rng.choice(colliders)
        below = [d for d in bn.descendants(c) if d in rest]
        if below:
            zs.append(rng.choice(below))
    return xs, ys, sorted(set(zs))


def _graph(bn):
    g = nx.DiGraph()
    g.add_nodes_from(bn.nodes)
    g.add_edges_from(bn.edges)
    return g


def test_agrees_with_networkx_on_thousands_of_random_queries():
    rng = random.Random(0)
    checked = separated = 0
    while checked < 4000:
        n = rng.randint(3, 14)
        bn = BayesianNetwork.from_edges(random_dag_edges(rng, n, rng.uniform(0.1, 0.5)), nodes=[f"v{i}" for i in range(n)])
        g = _graph(bn)
        for _ in range(10):
            xs, ys, zs = _random_query(rng, bn)
            if not ys:
                continue
            expected = nx.is_d_separator(g, set(xs), set(ys), set(zs))
            assert bn.d_separated(xs, ys, zs) == expected, (bn.edges, xs, ys, zs)
            trail = bn.active_trail(xs, ys, zs)
            assert (trail is None) == expected
            if trail is not None:
                assert trail[0] in xs and trail[-1] in ys
                assert len(set(trail)) == len(trail), "the trail must be simple"
                assert classify_trail(bn, trail, zs).active
            checked += 1
            separated += expected
    assert 0.2 < separated / checked < 0.8  # both answers well represented


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_property_trail_listing_agrees_with_bayes_ball(data):
    n = data.draw(st.integers(3, 8))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=12))
    bn = BayesianNetwork.from_edges([(f"v{i}", f"v{j}") for i, j in chosen], nodes=[f"v{i}" for i in range(n)])
    x, y = data.draw(st.lists(st.sampled_from(bn.nodes), min_size=2, max_size=2, unique=True))
    z = data.draw(st.lists(st.sampled_from([v for v in bn.nodes if v not in (x, y)]), unique=True))
    trails = bn.trails(x, y, z, max_trails=10_000)
    assert any(t.active for t in trails) == (not bn.d_separated(x, y, z))
    assert nx.is_d_separator(_graph(bn), {x}, {y}, set(z)) == bn.d_separated(x, y, z)
    for t in trails:
        for step in t.blockers:
            observed = step.node in z
            assert (step.role == "collider") != observed  # blocked: observed non-collider, or closed collider


def test_textbook_cases():
    chain, fork, collider = (load_example(n) for n in ("chain", "fork", "collider"))
    assert not chain.d_separated("Smoking", "Cancer") and chain.d_separated("Smoking", "Cancer", ["Tar"])
    assert not fork.d_separated("IceCream", "Sunburn") and fork.d_separated("IceCream", "Sunburn", ["Heat"])
    assert collider.d_separated("Burglary", "Earthquake")
    assert collider.active_trail("Burglary", "Earthquake", ["Alarm"]) == ["Burglary", "Alarm", "Earthquake"]
    # A collider opened by an observed descendant.
    bn = BayesianNetwork.from_edges([("A", "C"), ("B", "C"), ("C", "D")])
    assert not bn.d_separated("A", "B", ["D"])
    [trail] = bn.trails("A", "B", ["D"])
    assert trail.active and "observed descendant (D)" in trail.steps[0].reason
    [trail] = bn.trails("A", "B", [])
    assert trail.blockers[0].reason == "C is a collider with no observed descendant"


def test_query_errors():
    bn = load_example("sprinkler")
    with pytest.raises(NetworkError, match="Unknown variable 'Snow'"):
        bn.d_separated("Snow", "Rain")
    with pytest.raises(NetworkError, match="disjoint"):
        bn.d_separated("Rain", "Cloudy", ["Rain"])
    with pytest.raises(NetworkError, match="at least one"):
        bn.active_trail([], "Rain")


def test_large_network_queries_stop_early():
    bn = load_example("pigs")
    g = _graph(bn)
    rng = random.Random(3)
    for _ in range(200):
        xs, ys, zs = _random_query(rng, bn)
        assert bn.d_separated(xs, ys, zs) == nx.is_d_separator(g, set(xs), set(ys), set(zs))
