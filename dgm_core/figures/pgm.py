"""Figures of the Bayesian-network lab: the network with a query drawn on it, the Markov
network, and the inference comparisons. Both front ends call these, so they show the same pictures."""
from __future__ import annotations

import math

import networkx as nx
import numpy as np
import plotly.graph_objects as go

#: Above this many nodes, drawings focus on the query's nodes and their neighbourhood.
MAX_DRAWN_NODES = 45

COLOURS = {"x": "#1f77b4", "y": "#2ca02c", "trail": "#d62728", "edge": "#9a9a9a", "node": "#ffffff",
           "observed": "#9e9e9e", "moral": "#ff7f0e"}


def focus_nodes(bn, focus, max_nodes: int = MAX_DRAWN_NODES) -> tuple[list[str], str | None]:
    """The nodes to draw, and a note when the network is too large to draw whole.

    Small networks are drawn whole. Large ones show the focus nodes (query, evidence, trail),
    then their parents and children, then the next ring, until ``max_nodes``.
    """
    if len(bn) <= max_nodes:
        return list(bn.nodes), None
    chosen = list(dict.fromkeys(n for n in focus if n in bn.index))
    if not chosen:
        chosen = list(bn.topological_order[: max(1, max_nodes // 3)])
    ring = list(chosen)
    while len(chosen) < max_nodes and ring:
        nxt = []
        for n in ring:
            for m in bn.parents[n] + bn.children(n):
                if m not in chosen and m not in nxt:
                    nxt.append(m)
        room = max_nodes - len(chosen)
        chosen += nxt[:room]
        ring = nxt[:room]
    note = (f"{bn.name} has {len(bn)} nodes: the drawing shows {len(chosen)} of them, the query's nodes "
            "and their neighbourhood. Every computation uses the whole network.")
    return chosen, note


def _layered_positions(nodes, edges) -> dict[str, tuple[float, float]]:
    """Parents above children: layers are topological generations (networkx), spread evenly."""
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    positions = {}
    for depth, layer in enumerate(nx.topological_generations(g)):
        layer = sorted(layer, key=list(nodes).index)
        for i, n in enumerate(layer):
            positions[n] = (i - (len(layer) - 1) / 2, -depth)
    return positions


def network_figure(bn, x=(), y=(), given=(), trail=None, title: str | None = None, focus_extra=()) -> tuple[go.Figure, str | None]:
    """The DAG with the active trail in red, X blue, Y green and observed nodes shaded.

    Returns the figure and, for large networks, a note saying which part is drawn.
    """
    x, y, given = list(x), list(y), list(given)
    nodes, note = focus_nodes(bn, x + y + given + list(trail or []) + list(focus_extra))
    keep = set(nodes)
    edges = [(a, b) for a, b in bn.edges if a in keep and b in keep]
    pos = _layered_positions(nodes, edges)
    trail_edges = set()
    if trail:
        for a, b in zip(trail, trail[1:]):
            trail_edges |= {(a, b), (b, a)}
    fig = go.Figure()
    # One arrow annotation per edge, set in one call: add_annotation validates each one and is slow.
    arrows = []
    for a, b in edges:
        on_trail = (a, b) in trail_edges
        arrows.append(dict(
            x=pos[b][0], y=pos[b][1], ax=pos[a][0], ay=pos[a][1], xref="x", yref="y", axref="x", ayref="y",
            showarrow=True, arrowhead=2, arrowsize=1.2, standoff=16, startstandoff=16, text="",
            arrowwidth=3.5 if on_trail else 1.4, arrowcolor=COLOURS["trail"] if on_trail else COLOURS["edge"],
        ))
    fig.update_layout(annotations=arrows)
    fill = [COLOURS["observed"] if n in given else COLOURS["node"] for n in nodes]
    border = [COLOURS["x"] if n in x else COLOURS["y"] if n in y else COLOURS["trail"] if trail and n in trail else "#444"
              for n in nodes]
    role = {**{n: "X" for n in x}, **{n: "Y" for n in y}, **{n: "observed (Z)" for n in given}}
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text",
        text=nodes, textposition="bottom center", hoverinfo="text",
        hovertext=[f"{n} [{', '.join(bn.states[n])}] {role.get(n, '')}" for n in nodes],
        marker=dict(size=26, color=fill, line=dict(width=3, color=border)), name="nodes", showlegend=False,
    ))
    _finish(fig, title or bn.name, pos)
    return fig, note


def markov_network_figure(bn, markov, given=()) -> tuple[go.Figure, str | None]:
    """The moral graph: edges of the DAG in grey, edges added by marrying parents in orange."""
    nodes, note = focus_nodes(bn, list(given))
    keep = set(nodes)
    pos = _layered_positions(nodes, [(a, b) for a, b in bn.edges if a in keep and b in keep])
    directed = {frozenset(e) for e in bn.edges}
    fig = go.Figure()
    for kind, colour, dash in (("graph", COLOURS["edge"], "solid"), ("moral", COLOURS["moral"], "dash")):
        xs, ys = [], []
        for a, b in markov.graph.edges:
            if a in keep and b in keep and ((frozenset((a, b)) in directed) == (kind == "graph")):
                xs += [pos[a][0], pos[b][0], None]
                ys += [pos[a][1], pos[b][1], None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=colour, width=2, dash=dash),
                                 name="edge of the DAG" if kind == "graph" else "added by moralisation",
                                 hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text", text=nodes,
        textposition="bottom center", showlegend=False, hoverinfo="text",
        marker=dict(size=22, color=[COLOURS["observed"] if n in given else COLOURS["node"] for n in nodes],
                    line=dict(width=2, color="#444")),
    ))
    _finish(fig, f"Markov network of {bn.name} (moral graph)", pos)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.05))
    return fig, note


def _finish(fig: go.Figure, title: str, pos) -> None:
    xs = [p[0] for p in pos.values()] or [0]
    ys = [p[1] for p in pos.values()] or [0]
    fig.update_layout(
        title=title, height=max(320, 110 * (1 + max(ys) - min(ys)) if pos else 320),
        margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
        xaxis=dict(visible=False, range=[min(xs) - 0.8, max(xs) + 0.8]),
        yaxis=dict(visible=False, range=[min(ys) - 0.6, max(ys) + 0.4]),
    )
    fig.update_layout(height=min(fig.layout.height, 900))


def posterior_figure(tables: dict) -> go.Figure:
    """Grouped bars: the same posterior from several methods (exact, sampling, mean field)."""
    fig = go.Figure()
    for method, table in tables.items():
        labels = [" / ".join(k) for k, _ in table.items()]
        fig.add_trace(go.Bar(name=method, x=labels, y=[p for _, p in table.items()]))
    variables = next(iter(tables.values())).variables
    fig.update_layout(barmode="group", title=f"P({', '.join(variables)} | evidence)", yaxis=dict(range=[0, 1], title="probability"),
                      height=360, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))
    return fig


def sampling_error_figure(curve) -> go.Figure:
    """Total-variation error of likelihood weighting against the number of samples (log-log),
    with the 1/sqrt(n) rate for reference."""
    n = np.array([c[0] for c in curve], dtype=float)
    tv = np.array([c[1] for c in curve])
    fig = go.Figure(go.Scatter(x=n, y=tv, mode="lines+markers", name="likelihood weighting"))
    finite = np.isfinite(tv) & (tv > 0)
    if finite.any():
        anchor = np.argmax(finite)
        fig.add_trace(go.Scatter(x=n, y=tv[anchor] * np.sqrt(n[anchor] / n), mode="lines",
                                 line=dict(dash="dot", color="#888"), name="∝ 1/√n"))
    fig.update_layout(title="Sampling error vs exact answer", xaxis=dict(type="log", title="samples"),
                      yaxis=dict(type="log", title="total variation distance"), height=360,
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def elbo_figure(results) -> go.Figure:
    """ELBO per sweep for each mean-field restart, against the exact log P(evidence)."""
    fig = go.Figure()
    for r in sorted(results, key=lambda r: r.seed):
        start = "uniform start" if r.seed == 0 else f"random start {r.seed}"
        fig.add_trace(go.Scatter(y=r.elbo_history, mode="lines+markers", name=f"{start}: ELBO {r.elbo:.4f}"))
    log_evidence = results[0].log_evidence
    if math.isfinite(log_evidence):
        fig.add_hline(y=log_evidence, line=dict(color="black", dash="dash"),
                      annotation_text=f"log P(e) = {log_evidence:.4f}", annotation_position="bottom right")
    fig.update_layout(title="Mean field: ELBO per sweep", xaxis=dict(title="sweep"), yaxis=dict(title="ELBO (nats)"),
                      height=360, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig
