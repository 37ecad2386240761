"""Figures of the VAE lab: KL per dimension, training curves, the NLL panel and MIG (image grids
are the shared ones of figures/images.py)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dgm_core.figures.style import colour, legend_above, margins


def kl_per_dim_figure(kl_by_model: dict[str, list[float]]) -> go.Figure:
    """Average KL(q(z_j|x) ‖ p(z_j)) per latent dimension, one bar group per model."""
    fig = go.Figure()
    for i, (name, kl) in enumerate(kl_by_model.items()):
        fig.add_bar(x=[f"z{j}" for j in range(len(kl))], y=list(kl), name=name, marker_color=colour(i))
    fig.update_layout(barmode="group", yaxis_title="KL per dimension (nats)", margin=margins(30),
                      height=300, legend=legend_above())
    return fig


def training_curves_figure(histories: dict[str, dict]) -> go.Figure:
    """Test ELBO, reconstruction and KL per epoch (solid) and the training batches' (dotted)."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("ELBO (nats, ↑)", "reconstruction −E log p(x|z) (nats, ↓)", "KL(q‖p) (nats)"))
    for i, (name, history) in enumerate(histories.items()):
        line_colour = colour(i)
        epochs = history.get("epochs", [])
        steps = history.get("steps", [])
        per_epoch = max((e["step"] for e in epochs), default=1) / max(len(epochs), 1)
        for col, key in enumerate(("elbo", "reconstruction", "kl"), start=1):
            fig.add_scatter(x=[s["step"] / per_epoch for s in steps], y=[s[key] for s in steps], mode="lines",
                            line=dict(color=line_colour, dash="dot", width=1), name=f"{name} (train batches)",
                            legendgroup=name, showlegend=col == 1 and bool(steps), row=1, col=col, opacity=0.6)
            fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e[key] for e in epochs], mode="lines+markers",
                            line=dict(color=line_colour), name=f"{name} (test)", legendgroup=name, showlegend=col == 1,
                            row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=330, margin=margins(40), legend=dict(orientation="h", y=-0.25))
    return fig


def nll_figure(curves: dict[str, list[dict]], bits: bool = False) -> go.Figure:
    """The IWAE estimate −L_k of the NLL against k (log axis): k = 1 is the ELBO; it falls as k grows.
    Error bars: ± one standard error over the test images, where the run recorded it.
    `bits`: show bits/dim on hover too (only where dgm_core.labs.vae.bits_per_dim_basis allows it)."""
    fig = go.Figure()
    for i, (name, curve) in enumerate(curves.items()):
        extra = dict(customdata=[p["bits_per_dim"] for p in curve],
                     hovertemplate="k=%{x}<br>NLL %{y:.2f} nats<br>%{customdata:.4f} bits/dim<extra>%{fullData.name}</extra>"
                     ) if bits else dict(hovertemplate="k=%{x}<br>NLL %{y:.2f} nats<extra>%{fullData.name}</extra>")
        # ± one standard error over the test images, where the run recorded it (older runs did not)
        errors = [p.get("standard_error") for p in curve]
        error_y = dict(type="data", array=errors, visible=True) if all(e is not None for e in errors) else None
        fig.add_scatter(x=[p["k"] for p in curve], y=[p["nll_nats"] for p in curve], mode="lines+markers",
                        name=name, line=dict(color=colour(i)), error_y=error_y, **extra)
    ks = sorted({p["k"] for curve in curves.values() for p in curve})
    fig.update_xaxes(type="log", tickvals=ks, ticktext=[f"{k:,}" for k in ks],
                     title="k (importance samples); k = 1 is the ELBO")
    fig.update_yaxes(title="NLL estimate −L_k (nats per image, ↓)")
    fig.update_layout(height=330, margin=margins(30), legend=legend_above())
    return fig


def mig_figure(mig_by_model: dict[str, list[float]], factor_names: list[str]) -> go.Figure:
    """The gap of each factor and their mean (MIG), one bar group per model."""
    fig = go.Figure()
    for i, (name, gaps) in enumerate(mig_by_model.items()):
        fig.add_bar(x=[*factor_names, "MIG (mean)"], y=[*gaps, float(np.mean(gaps))], name=name,
                    marker_color=colour(i))
    fig.update_layout(barmode="group", yaxis=dict(title="normalised MI gap", range=[0, 1]), height=300,
                      margin=margins(30), legend=legend_above())
    return fig
