"""Figures of the comparison lab (dgm_core.compare): the Fréchet distance of every model with its
seed spread and the floor, the time to draw a sample, and the digits the judge reads in the samples."""
from __future__ import annotations

import plotly.graph_objects as go

from dgm_core.figures.style import PALETTE, REFERENCE, margins


def fd_figure(rows: list[dict], floor: float) -> go.Figure:
    """Mean FD per model, a bar from the lowest to the highest seed, each seed a dot, and the floor."""
    fig = go.Figure()
    names = [r["model"] for r in rows]
    fig.add_bar(x=names, y=[r["fd_mean"] for r in rows], marker_color=PALETTE[0], name="mean over seeds",
                error_y=dict(type="data", symmetric=False, array=[r["fd_max"] - r["fd_mean"] for r in rows],
                             arrayminus=[r["fd_mean"] - r["fd_min"] for r in rows]))
    fig.add_scatter(x=[r["model"] for r in rows for _ in r["per_seed"]],
                    y=[s["fd"] for r in rows for s in r["per_seed"]], mode="markers", name="one seed",
                    marker=dict(color=PALETTE[1], size=7), text=[s["checkpoint"] for r in rows for s in r["per_seed"]],
                    hovertemplate="%{text}: FD %{y:.1f}<extra></extra>")
    fig.add_scatter(x=[names[0], names[-1]], y=[floor, floor], mode="lines", name=f"floor {floor:.1f}: real digits "
                    "against real digits", line=dict(color=REFERENCE, dash="dot"), hoverinfo="skip")
    # One collapsed model (JEM on mnist-5k: 4,538) flattened every other bar and whisker on a linear axis.
    values = [r["fd_min"] for r in rows] + [floor]
    wide = max(r["fd_max"] for r in rows) > 10 * min(v for v in values if v > 0)
    if wide:
        fig.update_yaxes(type="log", dtick="D2", tickformat="~g")
    fig.update_layout(title="Fréchet distance to the test digits, in the digit classifier's features",
                      yaxis_title="FD (lower is better" + (", log scale)" if wide else ")"),
                      xaxis_title="model (bar: mean; whisker: lowest to highest seed)", margin=margins(60),
                      height=460, legend=dict(orientation="h", y=1.08))
    return fig


def sampling_time_figure(rows: list[dict], timed: int, repeats: int) -> go.Figure:
    """Milliseconds to draw one image, on a log axis (they span two orders of magnitude)."""
    fig = go.Figure(go.Bar(x=[r["model"] for r in rows], y=[1000 * r["seconds_per_sample"] for r in rows],
                           marker_color=PALETTE[2], hovertemplate="%{x}: %{y:.3g} ms per image<extra></extra>"))
    fig.update_yaxes(type="log", title="ms per sample (log scale)", dtick=1, tickformat="~g")
    fig.update_layout(title=f"Time to draw one image (median of {repeats} draws of {timed}, CPU)", xaxis_title="model",
                      margin=margins(40), height=380)
    return fig


def class_share_figure(row: dict) -> go.Figure:
    """The share of each seed's samples of one model the judge reads as each digit (a fair share is 10 %)."""
    labels = [s["checkpoint"] for s in row["per_seed"]]
    shares = [[100 * v for v in s["class_shares"]] for s in row["per_seed"]]
    fig = go.Figure(go.Heatmap(z=shares, x=[str(d) for d in range(10)], y=labels, colorscale="Viridis", zmin=0,
                               colorbar=dict(title="% of samples"), texttemplate="%{z:.1f}",
                               hovertemplate="%{y}<br>read as %{x}: %{z:.1f} %<extra></extra>"))
    fig.update_layout(title=f"{row['model']}: the digits the classifier reads in the samples (fair share 10 %)",
                      xaxis=dict(title="digit the classifier reads", dtick=1, type="category"),
                      yaxis=dict(autorange="reversed", type="category", title="checkpoint"),
                      margin=margins(40), height=140 + 50 * len(labels))
    return fig
