"""Figures of the normalizing-flow lab: the layer-by-layer warp of the 2-D flow, bits/dim
histograms of in- and out-of-distribution images, the estimators' bias and variance, the test
bits/dim curve, and the aggregate posterior against each VAE prior."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dgm_core.figures.style import ACCENT, REAL_COLOUR, REFERENCE, colour, legend_below, margins, thin

GRID_COLOUR = "#7f7f7f"


def warp_figure(warp: dict, direction: str = "forward", columns: int = 4) -> go.Figure:
    """The grid after each layer of the 2-D flow (dgm_core.flow.ToyFlow.warp). forward: a square
    grid in (standardised) data space, with the data on it, carried to z; inverse: a square grid in z
    pulled back to data space. Lines that bunch up mark where a layer compresses space."""
    stages = warp["forward"] if direction == "forward" else warp["inverse"]
    names = warp["names"] if direction == "forward" else (
        ["z (the Gaussian)"] + [f"after inverting coupling {len(stages) - 1 - i}" for i in range(len(stages) - 2)] +
        ["data space x"])
    if direction == "forward":
        names = names[:-1] + [names[-1] + " = z"]
    rows = math.ceil(len(stages) / columns)
    fig = make_subplots(rows, columns, subplot_titles=names, horizontal_spacing=0.04, vertical_spacing=0.12 / rows + 0.04)
    points = warp["forward_points"] if direction == "forward" else warp["inverse_points"]
    label = "data points" if direction == "forward" else "samples z ~ N(0, I)"
    for i, stage in enumerate(stages):
        r, c = divmod(i, columns)
        # the lines end to end, a NaN between two (a gap): one trace, as arrays (plotly checks lists item by item)
        joined = np.concatenate([stage, np.full((len(stage), 1, 2), np.nan, dtype=stage.dtype)], axis=1).reshape(-1, 2)
        fig.add_scatter(x=joined[:, 0], y=joined[:, 1], mode="lines", line=dict(width=1, color=GRID_COLOUR), showlegend=i == 0,
                        name="grid lines", row=r + 1, col=c + 1, hoverinfo="skip")
        fig.add_scatter(x=points[i][:, 0], y=points[i][:, 1], mode="markers", marker=dict(size=3, color=REAL_COLOUR
                        if direction == "forward" else ACCENT), name=label, showlegend=i == 0, row=r + 1, col=c + 1)
        # Each panel shows where its points are: grid lines far from the data run off towards infinity and
        # would otherwise squeeze the points into a dot.
        low, high = np.percentile(points[i], [0.5, 99.5], axis=0)
        pad = 0.25 * (high - low) + 1e-3
        fig.update_xaxes(range=[low[0] - pad[0], high[0] + pad[0]], row=r + 1, col=c + 1)
        fig.update_yaxes(range=[low[1] - pad[1], high[1] + pad[1]], row=r + 1, col=c + 1)
    fig.update_xaxes(showgrid=False, zeroline=True, zerolinecolor="#dddddd", tickfont=dict(size=9))
    fig.update_yaxes(showgrid=False, zeroline=True, zerolinecolor="#dddddd", tickfont=dict(size=9))
    fig.update_layout(height=270 * rows + 60, margin=margins(50), legend=legend_below(-0.06 if rows > 1 else -0.12),
                      title=dict(text="Grid lines and points carried " + (
                          "from data to z, layer by layer: at z the points should look like one round Gaussian blob"
                          if direction == "forward" else "from z back to data, layer by layer"), x=0.02))
    return fig


def training_curve_figure(history: list[dict]) -> go.Figure:
    """The live flow's negative log-likelihood of each training batch, per Adam step (thinned: a
    refresh costs the same at step 100 and at step 100,000)."""
    x, y = thin([h["step"] for h in history], [h["nll"] for h in history])
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", name="training batch", line=dict(color=colour(0))))
    fig.update_layout(height=300, margin=margins(20), showlegend=False, xaxis_title="Adam steps",
                      yaxis_title="NLL of the batch (nats per point)")
    return fig


#: The histogram's axis ends this many in-distribution spreads (its 1st to 99th percentile) past that set's
#: 99th percentile: the overlap the lesson is about gets the bins, and sets far beyond it (which would squeeze
#: the overlap into a few bins) go into one bar at the end, counted in the legend.
OOD_AXIS_SPREADS = 3.0


def ood_histogram_figure(values: dict[str, np.ndarray], in_name: str, x_title: str, bins: int = 60) -> go.Figure:
    """One histogram per set of per-image scores, as the share of that set's images per bin (so sets
    of different sizes compare); the training distribution's test set drawn darkest. The axis spans every
    set's low end up to OOD_AXIS_SPREADS spreads of the test set past its 99th percentile; what lies
    beyond is drawn in the last bar and its share named in the legend."""
    finite = {name: v[np.isfinite(v)] for name, v in values.items()}
    pooled = np.concatenate(list(finite.values())) if finite else np.zeros(0)
    if not len(pooled):
        pooled = np.array([0.0, 1.0])
    own = finite.get(in_name, pooled)
    own = own if len(own) else pooled
    q1, q99 = np.percentile(own, [1, 99])
    low = min(float(np.percentile(v, 0.5)) for v in finite.values() if len(v)) if any(len(v) for v in finite.values()) \
        else float(pooled.min())
    high = min(float(pooled.max()), float(q99 + OOD_AXIS_SPREADS * max(q99 - q1, 1e-6)))
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)
    fig = go.Figure()
    for i, (name, v) in enumerate(values.items()):
        counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
        share = 100 * counts / max(len(v), 1)
        beyond = float(np.mean(v > high)) if len(v) else 0.0
        label = f"{name} (test set of the training data)" if name == in_name else name
        if beyond > 0:
            label += f"; {100 * beyond:.0f} % past {high:.3g}, in the last bar"
        fig.add_bar(x=0.5 * (edges[1:] + edges[:-1]), y=share, width=edges[1] - edges[0], name=label,
                    marker=dict(color=REAL_COLOUR if name == in_name else colour(i - 1)),
                    opacity=0.85 if name == in_name else 0.55)
    fig.update_layout(barmode="overlay", height=380, margin=margins(30), legend=legend_below(-0.25),
                      xaxis_title=f"{x_title}; the last bar holds everything past {high:.3g}",
                      yaxis_title="share of the set's images per bin (%)")
    return fig


def hutchinson_figure(study, terms_for_variance: int | None = None) -> go.Figure:
    """Left: the truncated estimator's exact bias against the number of terms n (the Russian roulette's
    is zero). Right: the variance of each estimator against the number of probe vectors m, Gaussian
    and Rademacher probes, the truncated series at `terms_for_variance` terms."""
    rows = study.rows
    series = [r for r in rows if r["estimator"] == "truncated series"]
    terms = sorted({r["terms n"] for r in series})
    n_var = terms_for_variance or terms[-1]
    fig = make_subplots(1, 2, subplot_titles=("bias of the truncated series",
                                              f"variance (series: n = {n_var}; roulette: N drawn)"),
                        horizontal_spacing=0.14)
    bias = {r["terms n"]: r["bias"] for r in series}
    fig.add_scatter(x=terms, y=[abs(bias[n]) for n in terms], mode="lines+markers", name="|bias|, truncated series",
                    line=dict(color=colour(0)), row=1, col=1,
                    customdata=[bias[n] for n in terms], hovertemplate="n = %{x}: bias %{customdata:.4g} nats<extra></extra>")
    for j, kind in enumerate(("gaussian", "rademacher")):
        for estimator, dash in (("truncated series", "solid"), ("Russian roulette", "dot")):
            picked = [r for r in rows if r["probes"] == kind and r["estimator"] == estimator
                      and (estimator != "truncated series" or r["terms n"] == n_var)]
            picked.sort(key=lambda r: r["probe vectors m"])
            fig.add_scatter(x=[r["probe vectors m"] for r in picked], y=[r["variance"] for r in picked],
                            mode="lines+markers", name=f"{estimator}, {kind} probes",
                            line=dict(color=colour(1 + j), dash=dash), row=1, col=2)
    probes = sorted({r["probe vectors m"] for r in rows})
    fig.update_xaxes(title_text="terms n of the power series", type="log", tickvals=terms, row=1, col=1)
    fig.update_yaxes(title_text="|bias| (nats)", type="log", dtick=1, exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text="probe vectors m per estimate", type="log", tickvals=probes, row=1, col=2)
    fig.update_yaxes(title_text="variance of one estimate (nats²)", type="log", dtick=1, exponentformat="power",
                     row=1, col=2)
    fig.update_layout(height=400, margin=margins(40), legend=legend_below(-0.3))
    return fig


def bits_per_dim_curve_figure(histories: dict[str, dict], references: dict[str, float] | None = None) -> go.Figure:
    """Test bits/dim after each epoch of each shipped flow, with dashed reference levels (a baseline's
    bits/dim on the same test set). Where a run also measured its training and validation images (a dataset
    with a validation split), those curves are drawn in the run's colour (training dotted, validation dashed),
    so overfitting shows as the training curve parting from the others, and the epoch the run kept (lowest
    validation bits/dim) is marked."""
    fig = go.Figure()
    split_lines = {"train_bits_per_dim": ("training images", "dot"), "valid_bits_per_dim": ("validation images", "dash")}
    for i, (name, history) in enumerate(histories.items()):
        epochs = [e for e in history.get("epochs", []) if "test_bits_per_dim" in e]
        fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e["test_bits_per_dim"] for e in epochs], mode="lines",
                        name=name + (", test images" if "valid_bits_per_dim" in (epochs or [{}])[-1] else ""),
                        line=dict(color=colour(i)))
        for key, (words, dash) in split_lines.items():
            measured = [e for e in epochs if key in e]
            if measured:
                fig.add_scatter(x=[e["epoch"] for e in measured], y=[e[key] for e in measured], mode="lines",
                                name=f"{name}, {words}", line=dict(color=colour(i), dash=dash, width=1.5))
        selected = history.get("selected")
        if selected:
            kept = next((e for e in epochs if e["epoch"] == selected["epoch"]), None)
            if kept is not None:
                fig.add_scatter(x=[kept["epoch"]], y=[kept["test_bits_per_dim"]], mode="markers",
                                marker=dict(color=colour(i), size=10, symbol="star"),
                                name=f"{name}: epoch kept (lowest validation bits/dim)")
    for name, value in (references or {}).items():
        fig.add_hline(y=value, line=dict(color=REFERENCE, dash="dash"), annotation_text=name)
    fig.update_layout(height=380, margin=margins(30), legend=legend_below(-0.3),
                      xaxis_title="epoch (passes over the training set)", yaxis_title="bits/dim (lower is better)")
    return fig


def prior_comparison_figure(projections: dict[str, dict]) -> go.Figure:
    """For each VAE, samples of its aggregate posterior q(z) = E_x q(z|x) and of its prior p(z), both
    projected on the first two principal components of the aggregate posterior."""
    fig = make_subplots(1, len(projections), subplot_titles=list(projections), horizontal_spacing=0.08)
    for i, p in enumerate(projections.values()):
        fig.add_scatter(x=p["posterior"][:, 0], y=p["posterior"][:, 1], mode="markers", name="aggregate posterior q(z)",
                        marker=dict(size=3, color=REAL_COLOUR), opacity=0.6, showlegend=i == 0, row=1, col=i + 1)
        fig.add_scatter(x=p["prior"][:, 0], y=p["prior"][:, 1], mode="markers", name="prior p(z)",
                        marker=dict(size=3, color=ACCENT), opacity=0.6, showlegend=i == 0, row=1, col=i + 1)
        fig.update_xaxes(title_text=f"PC 1 ({p['explained'][0]:.0%} of q's variance)", row=1, col=i + 1)
        fig.update_yaxes(title_text=f"PC 2 ({p['explained'][1]:.0%})", row=1, col=i + 1)
    fig.update_layout(height=420, margin=margins(40), legend=legend_below(-0.25))
    return fig
