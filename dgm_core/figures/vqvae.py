"""Figures of the discrete-latent lab: code maps, codebook usage and health over training, the cluster
judgement (confusion matrix, label shares per cluster) and the 2-D maps of the codes."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from dgm_core.figures.style import colour, legend_below, margins

SHADES = " ░▒▓█"


def group_colour(i: int, groups: int) -> str:
    """Distinct colours for labels or clusters: ten categorical ones (D3) up to ten groups, 26 beyond
    (the lab's own palette cycles after eight, which made label 0 and label 8 the same blue)."""
    from plotly.colors import qualitative

    palette = qualitative.D3 if groups <= 10 else qualitative.Alphabet
    return palette[i % len(palette)]


def ascii_image(image: torch.Tensor | np.ndarray) -> str:
    """A small grey image as lines of shade characters joined by <br>: the picture a map point shows
    on hover (plotly's hover labels hold text, not images)."""
    x = np.asarray(image, dtype=np.float64).reshape(-1, np.asarray(image).shape[-1])
    levels = np.clip((x * (len(SHADES) - 1) + 0.5).astype(int), 0, len(SHADES) - 1)
    return "<br>".join("".join(SHADES[v] * 2 for v in row) for row in levels)


def code_maps_figure(indices: torch.Tensor, titles: list[str]) -> go.Figure:
    """Each image's grid of code indices, the number written in each cell."""
    from plotly.subplots import make_subplots

    n = len(indices)
    fig = make_subplots(rows=1, cols=n, subplot_titles=titles, horizontal_spacing=0.02)
    for i, grid in enumerate(indices.numpy()):
        fig.add_heatmap(z=grid, text=grid, texttemplate="%{text}", colorscale="Turbo", showscale=False,
                        zmin=0, zmax=int(indices.max()) + 1, row=1, col=i + 1,
                        hovertemplate="row %{y}, column %{x}: code %{z}<extra></extra>")
        fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=i + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=i + 1)
    fig.update_layout(height=190, margin=margins(30))
    return fig


def usage_figure(counts: torch.Tensor, title: str) -> go.Figure:
    """How often each code is chosen over the test set, most used first (dead codes: bars at 0)."""
    counts = np.asarray(counts)
    order = np.argsort(-counts, kind="stable")
    fig = go.Figure(go.Bar(x=[f"#{k}" for k in order], y=counts[order], marker_color=colour(0),
                           hovertemplate="code %{x}: %{y} positions<extra></extra>"))
    fig.update_layout(height=280, margin=margins(40), title=title,
                      xaxis_title="code (most used first)", yaxis_title="positions using it (test set)")
    # category axis in the given order: numeric-looking names would be sorted as numbers
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=[f"#{k}" for k in order])
    return fig


def health_over_training_figure(curves: dict[str, list[dict]], key: str, axis: str) -> go.Figure:
    """One line per checkpoint of an epoch metric (test perplexity, dead codes)."""
    fig = go.Figure()
    for i, (name, epochs) in enumerate(curves.items()):
        fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e[key] for e in epochs], mode="lines+markers", name=name,
                        line=dict(color=colour(i), dash="solid" if "no restarts" not in name else "dot"))
    fig.update_layout(height=300, margin=margins(20), legend=legend_below(-0.4), xaxis_title="epoch",
                      yaxis_title=axis)
    return fig


def confusion_figure(confusion: np.ndarray, labels: list[str]) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=confusion, x=labels, y=labels, text=confusion, texttemplate="%{text}",
                               colorscale="Blues", showscale=False,
                               hovertemplate="true %{y}, matched cluster says %{x}: %{z} images<extra></extra>"))
    fig.update_layout(height=360, margin=margins(40), title="confusion after matching clusters to labels",
                      xaxis_title="label of the image's cluster (matched)", yaxis_title="true label")
    fig.update_xaxes(type="category")
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def distribution_figure(share: np.ndarray, sizes: np.ndarray, labels: list[str], matched: dict[int, int]) -> go.Figure:
    """Per cluster, the share of each label among its images (stacked to 1); each cluster's tick says
    the label it was matched to and how many images it holds."""
    clusters = [f"{c}→{labels[matched[c]]} ({n})" for c, n in enumerate(sizes)]
    fig = go.Figure()
    for y, label in enumerate(labels):
        fig.add_bar(x=clusters, y=share[:, y], name=label, marker_color=group_colour(y, len(labels)),
                    hovertemplate=f"label {label}: %{{y:.0%}}<extra>cluster %{{x}}</extra>")
    fig.update_layout(barmode="stack", height=360, margin=dict(l=50, r=90, t=40, b=80),
                      legend=dict(title="label", orientation="v", x=1.02, y=1),
                      title="labels inside each cluster", xaxis_title="cluster → its matched label (images in it)",
                      yaxis_title="share of the cluster's images", yaxis_tickformat=".0%")
    fig.update_xaxes(type="category", tickangle=-60, tickfont=dict(size=10))
    return fig


def embedding_figure(points: np.ndarray, groups: np.ndarray, group_name: str, images: torch.Tensor,
                     title: str) -> go.Figure:
    """A 2-D map, one colour per label or cluster; hovering a point shows its image in shade characters."""
    fig = go.Figure()
    pictures = [ascii_image(im[0]) for im in images]
    unique = np.unique(groups)
    for i, g in enumerate(unique):
        members = np.flatnonzero(groups == g)
        # labels in the ten label colours of the cluster charts; clusters in another palette, so that
        # "cluster 2" is not drawn in label 2's colour
        shade = group_colour(i, len(unique)) if group_name == "label" else group_colour(i, 11)
        fig.add_scattergl(x=points[members, 0], y=points[members, 1], mode="markers", name=f"{group_name} {g}",
                          marker=dict(size=6, color=shade), text=[pictures[m] for m in members],
                          hovertemplate=f"{group_name} {g}<br>%{{text}}<extra></extra>")
    fig.update_layout(height=520, margin=margins(40), title=title, legend=legend_below(-0.15),
                      hoverlabel=dict(font_family="monospace", bgcolor="white"),
                      xaxis_title="map axis 1 (no unit: only neighbours matter)", yaxis_title="map axis 2")
    return fig
