"""d-separation speed: dgm_core's Bayes-ball against networkx.is_d_separator and pgmpy.

Random DAGs of 10^3, 10^4 and 10^5 nodes with average degree 3 (1.5 n edges between uniform
random pairs, oriented by a random order); each query asks about two nodes given 10
random observed nodes. Two query sets: two random nodes (mostly separated in such a sparse
graph, so the search must exhaust X's reachable set), and pairs joined by a trek (y found by
walking up from x and then down), which are mostly connected. Every library answers the same queries in the same run, and the
answers are checked to agree. Prints per-query times and the ratios.

    python -m benchmarks.dseparation [--sizes 1000 10000 100000] [--queries 200]
"""
from __future__ import annotations

import argparse
import random
import time

import networkx as nx

from dgm_core.pgm import BayesianNetwork


def random_dag(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    rank = {v: i for i, v in enumerate(order)}
    edges = set()
    while len(edges) < int(1.5 * n):
        a, b = rng.randrange(n), rng.randrange(n)
        if a != b:
            edges.add((a, b) if rank[a] < rank[b] else (b, a))
    return [(f"n{a}", f"n{b}") for a, b in sorted(edges)]


def trek_partner(bn, x: str, rng: random.Random) -> str | None:
    """A node reached from x by a random walk up through parents, then down through children."""
    node = x
    for _ in range(rng.randint(1, 4)):
        if not bn.parents[node]:
            break
        node = rng.choice(bn.parents[node])
    for _ in range(rng.randint(1, 4)):
        children = bn.children(node)
        if not children:
            break
        node = rng.choice(children)
    return None if node == x else node


def per_query(fn, queries) -> tuple[float, list]:
    start = time.perf_counter()
    answers = [fn(x, y, z) for x, y, z in queries]
    return (time.perf_counter() - start) / len(queries), answers


def query_sets(n: int, queries: int):
    """The graph of n nodes and its two query sets: random pairs and trek-connected pairs."""
    edges = random_dag(n, seed=n)
    nodes = [f"n{i}" for i in range(n)]
    bn = BayesianNetwork.from_edges(edges, nodes=nodes)  # validated once, as after an edit
    graph = nx.DiGraph(edges)
    graph.add_nodes_from(nodes)
    rng = random.Random(0)
    random_pairs, trek_pairs = [], []
    while len(random_pairs) < queries:
        chosen = rng.sample(nodes, 12)
        random_pairs.append((chosen[0], chosen[1], chosen[2:]))
    while len(trek_pairs) < queries:
        x = rng.choice(nodes)
        y = trek_partner(bn, x, rng)
        if y is not None:
            z = [v for v in rng.sample(nodes, 12) if v not in (x, y)][:10]
            trek_pairs.append((x, y, z))
    return bn, graph, nodes, edges, {"random pairs": random_pairs, "trek pairs": trek_pairs}


def measure(bn, graph, nodes, edges, queries, reference_queries: int) -> dict:
    """Seconds per query: ours (verdict), ours (active trail), networkx and pgmpy (None if absent);
    the answers are checked to agree."""
    try:
        from pgmpy.models import DiscreteBayesianNetwork as PgmpyNetwork
    except ImportError:  # pgmpy is optional
        PgmpyNetwork = None
    ref = queries[:reference_queries]
    ours, answers = per_query(bn.d_separated, queries)
    trail, trails = per_query(bn.active_trail, queries)
    assert [t is None for t in trails] == answers
    networkx_time, nx_answers = per_query(lambda x, y, z: nx.is_d_separator(graph, {x}, {y}, set(z)), ref)
    assert nx_answers == answers[: len(ref)], "networkx disagrees"
    pgmpy_time = None
    if PgmpyNetwork is not None:
        model = PgmpyNetwork(edges)
        model.add_nodes_from(nodes)
        pgmpy_time, pg_answers = per_query(lambda x, y, z: not model.is_dconnected(x, y, observed=z), ref)
        assert pg_answers == answers[: len(ref)], "pgmpy disagrees"
    return {"ours": ours, "trail": trail, "networkx": networkx_time, "pgmpy": pgmpy_time,
            "separated": sum(answers), "queries": len(answers)}


def rows(quick: bool = False) -> list[dict]:
    """The table rows of `python -m benchmarks`: µs per query, ours against each reference."""
    sizes, queries, reference = ([1_000], 50, 10) if quick else ([1_000, 10_000, 100_000], 200, 20)
    out = []
    for n in sizes:
        bn, graph, nodes, edges, sets = query_sets(n, queries)
        for label, qs in sets.items():
            m = measure(bn, graph, nodes, edges, qs, reference)
            for name in ("networkx", "pgmpy"):
                if m[name] is not None:
                    out.append({"benchmark": "dseparation", "measure": f"is X ⟂ Y given Z?, {n:,} nodes, {label}",
                                "ours": m["ours"] * 1e6, "reference": m[name] * 1e6, "unit": "µs per query",
                                "reference_name": name, "ratio": m[name] / m["ours"]})
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reference-queries", type=int, default=20, help="queries for the slow references")
    args = parser.parse_args(argv)
    print(f"per query; ratios are the reference's time over ours, measured in this run\n{'nodes':>8} {'ours (us)':>10} "
          f"{'trail (us)':>10} {'trail/verdict':>13} {'networkx (us)':>13} {'nx/ours':>8} {'pgmpy (us)':>11} "
          f"{'pgmpy/ours':>10}")
    for n in args.sizes:
        bn, graph, nodes, edges, sets = query_sets(n, args.queries)
        for label, queries in sets.items():
            m = measure(bn, graph, nodes, edges, queries, args.reference_queries)
            row = (f"{n:>8} {m['ours'] * 1e6:>10.1f} {m['trail'] * 1e6:>10.1f} {m['trail'] / m['ours']:>13.2f} "
                   f"{m['networkx'] * 1e6:>13.0f} {m['networkx'] / m['ours']:>8.0f}")
            if m["pgmpy"] is not None:
                row += f" {m['pgmpy'] * 1e6:>11.0f} {m['pgmpy'] / m['ours']:>10.0f}"
            else:
                row += f" {'(absent)':>11} {'-':>10}"
            print(row, flush=True)
            print(f"{'':>8} {label}: {m['separated']}/{m['queries']} separated")


if __name__ == "__main__":
    main()
