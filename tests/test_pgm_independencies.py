"""Implied independencies and the numerical check from the CPTs."""
import random

import numpy as np
import pytest

from dgm_core.pgm import (
    BayesianNetwork,
    NetworkError,
    independence_gap,
    load_example,
    local_markov,
    pairwise_independencies,
)

from .oracles import brute_force_joint, random_network


def _gap_by_enumeration(bn, x, y, z):
    joint = brute_force_joint(bn)
    keep = [x, y] + z
    axes = tuple(i for i, v in enumerate(bn.nodes) if v not in keep)
    table = joint.sum(axis=axes)
    order = [v for v in bn.nodes if v in keep]
    table = np.transpose(table, [order.index(v) for v in keep])
    worst = 0.0
    for idx in np.ndindex(table.shape):
        xi, yi, zi = idx[0], idx[1], idx[2:]
        p_yz = table[(slice(None), yi) + zi].sum()
        if p_yz == 0:
            continue
        p_x_given_yz = table[idx] / p_yz
        p_z = table[(slice(None), slice(None)) + zi].sum()
        p_x_given_z = table[(xi, slice(None)) + zi].sum() / p_z
        worst = max(worst, abs(p_x_given_yz - p_x_given_z))
    return worst


def test_gap_matches_enumeration_and_vanishes_under_d_separation():
    rng = random.Random(2)
    separated_seen = connected_seen = 0
    for _ in range(80):
        bn = random_network(rng, rng.randint(3, 6))
        x, y = rng.sample(bn.nodes, 2)
        z = [v for v in bn.nodes if v not in (x, y) and rng.random() < 0.4]
        gap = independence_gap(bn, x, y, z).gap
        assert gap == pytest.approx(_gap_by_enumeration(bn, x, y, z), abs=1e-12)
        if bn.d_separated(x, y, z):
            assert gap < 1e-12
            separated_seen += 1
        else:
            connected_seen += 1
    assert separated_seen > 5 and connected_seen > 5


def test_local_markov_statements_hold_numerically():
    bn = load_example("student")
    statements = local_markov(bn)
    assert "Letter ⟂ Difficulty, Intelligence, SAT | Grade" in [str(s) for s in statements]
    for s in statements:
        assert bn.d_separated(s.x, s.y, s.given)
        assert independence_gap(bn, s.x, s.y, s.given).gap < 1e-12


def test_d_connection_without_dependence_for_uniform_cpts():
    bn = BayesianNetwork.from_edges([("A", "B")])  # uniform CPTs: B does not depend on A
    assert not bn.d_separated("A", "B")
    assert independence_gap(bn, "A", "B").gap == pytest.approx(0.0, abs=1e-15)


def test_explaining_away_shows_dependence():
    bn = load_example("collider")
    assert independence_gap(bn, "Burglary", "Earthquake").gap < 1e-12
    check = independence_gap(bn, "Burglary", "Earthquake", ["Alarm"])
    assert check.gap > 0.1 and check.assignment["Alarm"] == "on"


def test_pairwise_statements_and_oversized_checks():
    bn = load_example("sprinkler")
    assert [str(s) for s in pairwise_independencies(bn, ["Cloudy", "WetGrass"])] == []
    assert [str(s) for s in pairwise_independencies(bn, ["Sprinkler", "Rain"])] == ["Cloudy ⟂ WetGrass | Sprinkler, Rain"]
    big = load_example("pigs")
    with pytest.raises(NetworkError, match="fewer or smaller"):
        independence_gap(big, list(big.nodes[:8]), list(big.nodes[8:16]), list(big.nodes[16:20]))
