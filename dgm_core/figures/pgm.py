"""Figures of the Bayesian-network lab: the network with a query drawn on it, the Markov
network, and the inference comparisons. Both front ends call these, so they show the same pictures.

Graph layout. DAGs are drawn layered (Sugiyama: parents above children, crossings reduced by
the barycenter heuristic, long edges routed through bend points) by python-igraph's
``Graph.layout_sugiyama``. We use igraph rather than Graphviz ``dot`` because ``dot`` is a system
program that ``pip install`` cannot provide: a laptop with only requirements.txt would draw
differently from a server that has it, or not at all, while igraph ships wheels for every
platform and gives the page, the Space and the tests the same picture. We choose the layers
ourselves, for legibility: a row holds at most ``ROW_CAPACITY`` nodes (a wider row's labels
collide at the width of a page column), and a root sinks to just above its first child instead
of joining one long top row. Labels longer than ``LABEL_CHARS`` are shortened, with the full name
on hover. The Markov network is drawn on the same positions, so the two pictures compare.
"""
from __future__ import annotations

import math
from collections import Counter

import igraph
import networkx as nx
import numpy as np
import plotly.graph_objects as go

from dgm_core.figures.style import ACCENT, PALETTE, REAL_COLOUR, margins

#: Above this many nodes, drawings focus on the query's nodes and their neighbourhood.
MAX_DRAWN_NODES = 45
#: The most nodes in one row of a drawing: five labels of LABEL_CHARS fit a 550 px column.
ROW_CAPACITY = 5
#: Longer labels are shortened to this many characters (the full name is on hover).
LABEL_CHARS = 10
#: Pixels per row of the drawing: a node, its label below, and room for the edges.
ROW_HEIGHT_PX = 72
#: An edge leaves its parent from below the parent's label (in rows): drawn from the node's centre, the
#: edges ran through the label (andes' labels sat under its edges).
LABEL_DROP = 0.42

#: The query's roles in the palette's colours: X blue, Y green, the active trail red, colliders purple.
COLOURS = {"x": PALETTE[0], "y": PALETTE[2], "trail": PALETTE[1], "collider": PALETTE[3], "edge": "#9a9a9a",
           "node": "#ffffff", "border": REAL_COLOUR, "observed": "#9e9e9e", "moral": ACCENT}


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


def layers_of(nodes, edges, capacity: int = ROW_CAPACITY) -> dict[str, int]:
    """A row for every node: below all its parents, at most ``capacity`` nodes per row.

    Nodes are placed in topological order (ties in listing order), each in the first row below
    its parents that has room. Then each root moves down, as far as rows have room, to just
    above its highest child, so that roots do not crowd the top row far from their children.
    """
    rank = {n: i for i, n in enumerate(nodes)}
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    order = list(nx.lexicographical_topological_sort(graph, key=rank.get))
    row: dict[str, int] = {}
    count: Counter[int] = Counter()
    for n in order:
        k = max((row[p] + 1 for p in graph.predecessors(n)), default=0)
        while count[k] >= capacity:
            k += 1
        row[n] = k
        count[k] += 1
    for n in reversed(order):
        children = list(graph.successors(n))
        if graph.in_degree(n) or not children:
            continue
        for k in range(min(row[c] for c in children) - 1, row[n], -1):
            if count[k] < capacity:
                count[row[n]] -= 1
                row[n] = k
                count[k] += 1
                break
    used = {k: i for i, k in enumerate(sorted(set(row.values())))}  # close rows left empty
    return {n: used[k] for n, k in row.items()}


def layered_layout(nodes, edges, capacity: int = ROW_CAPACITY):
    """Positions ``{node: (x, y)}`` (row r at y = -r) and, per edge, its bend points.

    The rows come from :func:`layers_of`. igraph's Sugiyama layout orders each row to reduce
    crossings and routes an edge that spans several rows through one bend point per row. Its
    x coordinates give every bend point a full node's width, which makes rows crossed by many
    edges several times wider than their nodes need; so we keep igraph's order and place the
    nodes of a row one unit apart, squeeze the bend points into the gaps, and shift each row
    towards its nodes' parents, within the width of the widest row.
    """
    nodes = list(nodes)
    index = {n: i for i, n in enumerate(nodes)}
    row = layers_of(nodes, edges, capacity)
    graph = igraph.Graph(n=len(nodes), edges=[(index[a], index[b]) for a, b in edges], directed=True)
    layout = graph.layout_sugiyama(layers=[row[n] for n in nodes], hgap=1, vgap=1)
    # Each row's items in igraph's order: a node, or a bend point (edge number, bend number).
    items: dict[int, list] = {}
    for n in nodes:
        items.setdefault(row[n], []).append((layout.coords[index[n]][0], n))
    for e, points in enumerate(layout.edge_routing):
        for b, (px, py) in enumerate(points):
            items.setdefault(round(py), []).append((px, (e, b)))
    placed: dict[object, float] = {}
    widths = {}
    for r, row_items in items.items():
        row_items.sort(key=lambda item: item[0])
        order = [ref for _, ref in row_items]
        real = [i for i, ref in enumerate(order) if isinstance(ref, str)]
        for rank, i in enumerate(real):
            placed[order[i]] = float(rank)
        # Bend points: evenly inside the gap they fall in, or within half a unit beyond the ends.
        gaps = [(-1, real[0], -0.5, 0.0)] + [(a, b, placed[order[a]], placed[order[b]]) for a, b in zip(real, real[1:])]
        gaps.append((real[-1], len(order), placed[order[real[-1]]], placed[order[real[-1]]] + 0.5))
        for a, b, left, right in gaps:
            between = order[a + 1:b]
            for k, ref in enumerate(between, start=1):
                if b == len(order):  # after the last node: spread over (left, right]
                    placed[ref] = left + (right - left) * k / len(between)
                elif a == -1:  # before the first node: spread over [left, right)
                    placed[ref] = left + (right - left) * (k - 1) / len(between)
                else:
                    placed[ref] = left + (right - left) * k / (len(between) + 1)
        widths[r] = len(real) - 1
    widest = max(widths.values())
    parents = {n: [a for a, b in edges if b == n] for n in nodes}
    shift: dict[int, float] = {}
    for r in sorted(items):  # top row first: a row's parents are placed before it
        above = [placed[p] + shift[row[p]] for n in nodes if row[n] == r for p in parents[n]]
        barycentre = sum(above) / len(above) if above else 0.0
        room = (widest - widths[r]) / 2
        # The row's centre goes under its parents, as far as the widest row's width allows.
        shift[r] = -widths[r] / 2 + max(-room, min(room, barycentre))
    positions = {n: (placed[n] + shift[row[n]], -float(row[n])) for n in nodes}
    bends = {edge: [(placed[(e, b)] + shift[round(py)], -float(py)) for b, (_, py) in enumerate(points)]
             for e, (edge, points) in enumerate(zip(edges, layout.edge_routing))}
    return positions, bends


def short_label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def trail_colliders(bn, trail) -> set[str]:
    """The colliders of a trail: middle nodes whose two trail neighbours both point into them."""
    if not trail:
        return set()
    return {b for a, b, c in zip(trail, trail[1:], trail[2:]) if a in bn.parents[b] and c in bn.parents[b]}


def _legend_entry(fig: go.Figure, name: str, **style) -> None:
    """A legend item with no data: the legend explains the colours whatever the drawing shows."""
    fig.add_trace(go.Scatter(x=[None], y=[None], name=name, showlegend=True, hoverinfo="skip", **style))


def _node_legend(fig: go.Figure, roles: list[tuple[str, str]]) -> None:
    for name, role in roles:
        if role == "observed":
            marker = dict(size=14, color=COLOURS["observed"], line=dict(width=2, color=COLOURS["border"]))
        else:
            marker = dict(size=14, color=COLOURS["node"], line=dict(width=3, color=COLOURS[role]))
        _legend_entry(fig, name, mode="markers", marker=marker)


def _edge_paths(edges, positions, bends):
    """Each edge as its list of points: just below the parent's label, the bend points, the child."""
    return {(a, b): [(positions[a][0], positions[a][1] - LABEL_DROP), *bends.get((a, b), []), positions[b]]
            for a, b in edges}


def _labels(nodes, positions) -> list[dict]:
    """Each node's (short) name under it, on a white ground drawn over the edges: as text of the node trace
    the edges and arrowheads ran across the labels (andes). Annotations listed after the arrows are drawn
    above them."""
    return [dict(x=positions[n][0], y=positions[n][1], xref="x", yref="y", text=short_label(n), showarrow=False,
                 yshift=-21, font=dict(size=11, color=REAL_COLOUR), bgcolor="rgba(255,255,255,0.88)", borderpad=1,
                 captureevents=False) for n in nodes]


def _polylines(paths) -> tuple[list, list]:
    xs, ys = [], []
    for path in paths:
        xs += [p[0] for p in path] + [None]
        ys += [p[1] for p in path] + [None]
    return xs, ys


def network_figure(bn, x=(), y=(), given=(), trail=None, title: str | None = None, focus_extra=()) -> tuple[go.Figure, str | None]:
    """The DAG with the query drawn on it, and a legend for every colour: X (blue ring), Y (green
    ring), observed Z (grey fill), the active trail (red), colliders on that trail (purple ring).

    Returns the figure and, for large networks, a note saying which part is drawn.
    """
    x, y, given = list(x), list(y), list(given)
    nodes, note = focus_nodes(bn, x + y + given + list(trail or []) + list(focus_extra))
    keep = set(nodes)
    edges = [(a, b) for a, b in bn.edges if a in keep and b in keep]
    positions, bends = layered_layout(nodes, edges)
    paths = _edge_paths(edges, positions, bends)
    on_trail = {frozenset(pair) for pair in zip(trail or [], (trail or [])[1:])}
    colliders = trail_colliders(bn, trail)
    fig = go.Figure()
    # Edges: every segment but the last as lines, the last as an arrow into the child. The arrows
    # are set in one call: add_annotation validates each one and is slow.
    arrows = []
    for active in (False, True):
        chosen = [paths[e] for e in edges if (frozenset(e) in on_trail) == active]
        xs, ys = _polylines([path[:-1] for path in chosen])
        colour, width = (COLOURS["trail"], 3.5) if active else (COLOURS["edge"], 1.4)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=colour, width=width, shape="spline", smoothing=0.5),
                                 hoverinfo="skip", showlegend=False))
        for path in chosen:
            (ax, ay), (bx, by) = path[-2], path[-1]
            arrows.append(dict(x=bx, y=by, ax=ax, ay=ay, xref="x", yref="y", axref="x", ayref="y", text="",
                               showarrow=True, arrowhead=2, arrowsize=1.2, standoff=15,
                               startstandoff=0, arrowwidth=width, arrowcolor=colour))

    def border(n):
        if n in x:
            return COLOURS["x"]
        if n in y:
            return COLOURS["y"]
        if n in colliders:
            return COLOURS["collider"]
        return COLOURS["trail"] if trail and n in trail else COLOURS["border"]

    role = {**{n: "X" for n in x}, **{n: "Y" for n in y}, **{n: "observed (Z)" for n in given}}
    for n in colliders:
        role[n] = ", ".join(filter(None, [role.get(n), "collider on the active trail"]))
    fig.add_trace(go.Scatter(
        x=[positions[n][0] for n in nodes], y=[positions[n][1] for n in nodes], mode="markers",
        text=[short_label(n) for n in nodes], customdata=nodes, hoverinfo="text",
        hovertext=[f"{n} [{', '.join(bn.states[n])}] {role.get(n, '')}".strip() for n in nodes],
        marker=dict(size=24, color=[COLOURS["observed"] if n in given else COLOURS["node"] for n in nodes],
                    line=dict(width=3, color=[border(n) for n in nodes])),
        name="nodes", showlegend=False,
    ))
    fig.update_layout(annotations=arrows + _labels(nodes, positions))
    _node_legend(fig, [("X", "x"), ("Y", "y"), ("observed (Z)", "observed")])
    _legend_entry(fig, "active trail", mode="lines", line=dict(color=COLOURS["trail"], width=3.5))
    _node_legend(fig, [("node on the trail", "trail"), ("collider on the trail", "collider")])
    _finish(fig, title or bn.name, positions)
    return fig, note


def markov_network_figure(bn, markov, given=()) -> tuple[go.Figure, str | None]:
    """The moral graph on the DAG's positions: the DAG's edges in grey (undirected now), the edges
    added by marrying the parents of a common child dashed orange, observed nodes shaded."""
    nodes, note = focus_nodes(bn, list(given))
    keep = set(nodes)
    dag_edges = [(a, b) for a, b in bn.edges if a in keep and b in keep]
    positions, bends = layered_layout(nodes, dag_edges)
    paths = _edge_paths(dag_edges, positions, bends)
    directed = {frozenset(e) for e in dag_edges}
    moral = [(a, b) for a, b in markov.graph.edges if a in keep and b in keep and frozenset((a, b)) not in directed]
    fig = go.Figure()
    for name, chosen, colour, dash in (
        ("edge of the DAG", list(paths.values()), COLOURS["edge"], "solid"),
        ("added by moralisation", [[positions[a], positions[b]] for a, b in moral], COLOURS["moral"], "dash"),
    ):
        xs, ys = _polylines(chosen)
        fig.add_trace(go.Scatter(x=xs or [None], y=ys or [None], mode="lines", name=name, hoverinfo="skip",
                                 line=dict(color=colour, width=2, dash=dash, shape="spline"), showlegend=True))
    fig.add_trace(go.Scatter(
        x=[positions[n][0] for n in nodes], y=[positions[n][1] for n in nodes], mode="markers",
        text=[short_label(n) for n in nodes], customdata=nodes, name="nodes", showlegend=False, hoverinfo="text",
        hovertext=[f"{n} [{', '.join(bn.states[n])}]" + (" observed (Z)" if n in given else "") for n in nodes],
        marker=dict(size=22, color=[COLOURS["observed"] if n in given else COLOURS["node"] for n in nodes],
                    line=dict(width=2, color=COLOURS["border"])),
    ))
    fig.update_layout(annotations=_labels(nodes, positions))
    _node_legend(fig, [("observed (Z)", "observed")])
    _finish(fig, f"Markov network of {bn.name} (moral graph)", positions)
    return fig, note


def _finish(fig: go.Figure, title: str, positions) -> None:
    """Axes fitted to the nodes, a height of ROW_HEIGHT_PX per row, the legend under the drawing."""
    xs = [p[0] for p in positions.values()] or [0]
    ys = [p[1] for p in positions.values()] or [0]
    rows = 1 + round(max(ys) - min(ys))
    fig.update_layout(
        title=title, height=max(320, ROW_HEIGHT_PX * rows + 110),
        margin=margins(40), plot_bgcolor="white",
        xaxis=dict(visible=False, range=[min(xs) - 0.7, max(xs) + 0.7], fixedrange=False),
        yaxis=dict(visible=False, range=[min(ys) - 0.55, max(ys) + 0.3]),
        legend=dict(orientation="h", x=0, y=-0.01, yanchor="top", font=dict(size=11)),
        showlegend=True,
    )


def posterior_figure(tables: dict) -> go.Figure:
    """Grouped bars: the same posterior from several methods (exact, sampling, mean field)."""
    fig = go.Figure()
    for method, table in tables.items():
        labels = [" / ".join(k) for k, _ in table.items()]
        fig.add_trace(go.Bar(name=method, x=labels, y=[p for _, p in table.items()]))
    variables = next(iter(tables.values())).variables
    fig.update_layout(barmode="group", title=f"P({', '.join(variables)} | evidence)", yaxis=dict(range=[0, 1], title="probability"),
                      height=360, margin=margins(40), legend=dict(orientation="h", y=-0.2))
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
    fig.update_layout(title="Sampling error vs exact answer", xaxis=dict(type="log", title="samples", dtick=1),
                      yaxis=dict(type="log", title="total variation distance", dtick=1, exponentformat="power"),
                      height=360, margin=margins(40), legend=dict(orientation="h", y=-0.25))
    if not finite.any():
        # A log axis cannot draw 0: say it, rather than show an empty chart.
        fig.update_layout(yaxis=dict(type="linear", range=[-0.05, 1], title="total variation distance"))
        fig.add_annotation(text="The sampling error is 0 at every n: with this evidence every weighted sample<br>"
                                "gives the exact answer (e.g. the query is determined by the evidence).",
                           xref="paper", yref="paper", x=0.5, y=0.6, showarrow=False)
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
                      height=360, margin=margins(40), legend=dict(orientation="h", y=-0.25))
    return fig
