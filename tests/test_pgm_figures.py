"""The drawings of the Bayesian-network lab: layered (parents above children), labels that do not
overlap at the narrowest width the page gives the graph, and a legend for every colour.

Label room is checked with the plot's own geometry: the x-axis range spread over PLOT_PX pixels
(the d-separation column of the page at a 1400 px window is about 550 px wide) and CHAR_PX per
character of an 11-12 px label; the browser test measures the real text boxes in Chromium."""
import networkx as nx
import pytest

from dgm_core.figures.pgm import markov_network_figure, network_figure
from dgm_core.pgm import load_example, to_markov_network
from dgm_core.pgm.examples import suggested_query

PLOT_PX = 550
CHAR_PX = 7
ROW_PX = 55  # a node (26 px) and its label below it


def _nodes_trace(fig):
    return next(t for t in fig.data if t.name == "nodes")


def _drawn(fig) -> dict[str, tuple[float, float, str]]:
    """Full node name -> (x, y, the label drawn under it)."""
    trace = _nodes_trace(fig)
    names = list(trace.customdata) if trace.customdata is not None else list(trace.text)
    names = [n[0] if isinstance(n, (list, tuple)) else n for n in names]
    return {n: (x, y, label) for n, x, y, label in zip(names, trace.x, trace.y, trace.text)}


def _check_legible(fig, bn):
    drawn = _drawn(fig)
    assert len(drawn) == len(set(drawn))
    graph = nx.DiGraph(bn.edges)
    # Parents are drawn above their children (networkx's edge list is the oracle).
    for a, b in graph.edges:
        if a in drawn and b in drawn:
            assert drawn[a][1] > drawn[b][1], f"{a} -> {b} is not drawn downwards"
    # Labels in a row keep apart at PLOT_PX pixels.
    x_range = fig.layout.xaxis.range
    px_per_unit = PLOT_PX / (x_range[1] - x_range[0])
    rows: dict[float, list] = {}
    for name, (x, y, label) in drawn.items():
        rows.setdefault(round(y, 6), []).append((x, label, name))
    for row in rows.values():
        row.sort()
        for (xa, la, _na), (xb, lb, _nb) in zip(row, row[1:]):
            needed = CHAR_PX * (len(la) + len(lb)) / 2 + 6
            assert (xb - xa) * px_per_unit >= needed, f"labels {la!r} and {lb!r} overlap"
    assert fig.layout.height / len(rows) >= ROW_PX, "rows too close for a node and its label"
    # A shortened label keeps the full name on hover.
    trace = _nodes_trace(fig)
    for (name, (_, _, label)), hover in zip(drawn.items(), trace.hovertext):
        assert label == name or name in hover


def test_labels_are_drawn_over_the_edges_and_edges_leave_below_their_parent_s_label():
    """andes' labels sat under its edges: the labels are annotations on a white ground listed after every
    arrow (so drawn above them), and an edge starts below its parent's label, not at the node."""
    from dgm_core.figures.pgm import LABEL_DROP, network_figure

    bn = load_example("andes")
    fig, _ = network_figure(bn, *suggested_query(bn))
    notes = list(fig.layout.annotations)
    arrows = [i for i, a in enumerate(notes) if a.showarrow]
    labels = [i for i, a in enumerate(notes) if not a.showarrow]
    assert arrows and labels and max(arrows) < min(labels)
    assert all(notes[i].bgcolor and notes[i].yshift < 0 for i in labels)
    drawn = _drawn(fig)
    assert sorted(notes[i].text for i in labels) == sorted(label for _, _, label in drawn.values())
    tops = {(round(x, 6), round(y, 6)) for x, y, _ in drawn.values()}
    edges = next(t for t in fig.data if t.mode == "lines" and t.x)
    starts = [(round(edges.x[i], 6), round(edges.y[i] + LABEL_DROP, 6)) for i in range(len(edges.x))
              if edges.x[i] is not None and (i == 0 or edges.x[i - 1] is None)]
    assert starts and all(s in tops for s in starts)


@pytest.mark.parametrize("name", ["student", "alarm", "hailfinder", "win95pts", "andes", "pigs"])
def test_dag_drawings_are_layered_with_labels_that_do_not_overlap(name):
    bn = load_example(name)
    x, y, z = suggested_query(bn)
    trail = bn.active_trail(x, y, z)
    fig, _ = network_figure(bn, x, y, z, trail)
    _check_legible(fig, bn)


@pytest.mark.parametrize("name", ["student", "alarm", "pigs"])
def test_markov_network_drawings_are_legible_and_share_the_dag_positions(name):
    bn = load_example(name)
    x, y, z = suggested_query(bn)
    dag, _ = network_figure(bn, focus_extra=z)
    markov, _ = markov_network_figure(bn, to_markov_network(bn), z)
    _check_legible(markov, bn)
    if len(bn) <= 45:  # drawn whole: the same picture, so a class can compare the two graphs
        assert {n: p[:2] for n, p in _drawn(dag).items()} == {n: p[:2] for n, p in _drawn(markov).items()}


def _legend(fig) -> dict[str, object]:
    return {t.name: t for t in fig.data if t.showlegend is not False and t.name}


def test_the_legend_names_every_colour_and_the_nodes_use_them():
    bn = load_example("collider")
    trail = bn.active_trail(["Burglary"], ["Earthquake"], ["Alarm"])
    fig, _ = network_figure(bn, ["Burglary"], ["Earthquake"], ["Alarm"], trail)
    legend = _legend(fig)
    assert set(legend) >= {"X", "Y", "observed (Z)", "active trail", "collider on the trail"}
    nodes = _nodes_trace(fig)
    drawn = list(_drawn(fig))
    border = dict(zip(drawn, nodes.marker.line.color))
    fill = dict(zip(drawn, nodes.marker.color))
    assert border["Burglary"] == legend["X"].marker.line.color
    assert border["Earthquake"] == legend["Y"].marker.line.color
    assert border["Alarm"] == legend["collider on the trail"].marker.line.color  # a collider, observed
    assert fill["Alarm"] == legend["observed (Z)"].marker.color
    assert fill["Burglary"] != fill["Alarm"]
    # The chain through an unobserved middle node has no collider on its trail.
    chain = load_example("chain")
    fig, _ = network_figure(chain, ["Smoking"], ["Cancer"], [], chain.active_trail(["Smoking"], ["Cancer"]))
    colours = dict(zip(_drawn(fig), _nodes_trace(fig).marker.line.color))
    assert colours["Tar"] != _legend(fig)["collider on the trail"].marker.line.color


def test_the_markov_network_legend():
    bn = load_example("student")
    fig, _ = markov_network_figure(bn, to_markov_network(bn), ["Letter"])
    assert set(_legend(fig)) >= {"edge of the DAG", "added by moralisation", "observed (Z)"}
