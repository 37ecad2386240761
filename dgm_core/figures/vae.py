"""Figures of the VAE lab: image grids, KL per dimension, training curves, the NLL panel and MIG.

Images are drawn as one plotly Heatmap of a tiled mosaic: a single trace renders fast enough
for a latent slider to feel live (see benchmarks/vae_slider.py)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

GREYS = [[0.0, "#000000"], [1.0, "#ffffff"]]
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def mosaic(images: torch.Tensor, ncols: int, pad: int = 1) -> np.ndarray:
    """Tile (N, C, H, W) images into one (rows·(H+pad)−pad, cols·(W+pad)−pad[, 3]) array; pad is grey."""
    images = images.detach().float().clamp(0, 1).cpu().numpy()
    n, c, h, w = images.shape
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad, c), 0.5, dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, ncols)
        out[r * (h + pad):r * (h + pad) + h, col * (w + pad):col * (w + pad) + w] = images[i].transpose(1, 2, 0)
    return out[..., 0] if c == 1 else out


def image_grid_figure(images: torch.Tensor, ncols: int, title: str = "", row_labels: list[str] | None = None,
                      col_labels: list[str] | None = None, height: int | None = None) -> go.Figure:
    """A grid of images, optionally with row and column labels (e.g. latent dims × values)."""
    grid = mosaic(images, ncols)
    h, w = images.shape[-2:]
    if grid.ndim == 2:
        trace = go.Heatmap(z=grid[::-1], colorscale=GREYS, zmin=0, zmax=1, showscale=False, hoverinfo="skip")
    else:
        trace = go.Image(z=(grid * 255).astype(np.uint8)[::-1], hoverinfo="skip")
    fig = go.Figure(trace)
    rows = grid.shape[0]
    fig.update_xaxes(showticklabels=col_labels is not None, showgrid=False, zeroline=False, constrain="domain",
                     tickvals=[c * (w + 1) + w / 2 for c in range(len(col_labels or []))], ticktext=col_labels)
    fig.update_yaxes(showticklabels=row_labels is not None, showgrid=False, zeroline=False, scaleanchor="x",
                     tickvals=[rows - (r * (h + 1) + h / 2) for r in range(len(row_labels or []))], ticktext=row_labels)
    if grid.ndim == 3:
        fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title or None, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      height=height or max(160, min(700, int(90 * rows / (h + 1)) + 60)), plot_bgcolor="white")
    return fig


def kl_per_dim_figure(kl_by_model: dict[str, list[float]], active_threshold: float | None = None) -> go.Figure:
    """Average KL(q(z_j|x) ‖ p(z_j)) per latent dimension, one bar group per model."""
    fig = go.Figure()
    for i, (name, kl) in enumerate(kl_by_model.items()):
        fig.add_bar(x=[f"z{j}" for j in range(len(kl))], y=list(kl), name=name, marker_color=PALETTE[i % 6])
    fig.update_layout(barmode="group", yaxis_title="KL per dimension (nats)", margin=dict(l=10, r=10, t=30, b=10),
                      height=300, legend=dict(orientation="h", y=1.12))
    return fig


def training_curves_figure(histories: dict[str, dict]) -> go.Figure:
    """Test ELBO, reconstruction and KL per epoch (solid) and the training batches' (dotted)."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("ELBO (nats, ↑)", "reconstruction −E log p(x|z)", "KL(q‖p)"))
    for i, (name, history) in enumerate(histories.items()):
        colour = PALETTE[i % 6]
        epochs = history.get("epochs", [])
        steps = history.get("steps", [])
        per_epoch = max((e["step"] for e in epochs), default=1) / max(len(epochs), 1)
        for col, key in enumerate(("elbo", "reconstruction", "kl"), start=1):
            fig.add_scatter(x=[s["step"] / per_epoch for s in steps], y=[s[key] for s in steps], mode="lines",
                            line=dict(color=colour, dash="dot", width=1), name=f"{name} (train batches)",
                            legendgroup=name, showlegend=col == 1 and bool(steps), row=1, col=col, opacity=0.6)
            fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e[key] for e in epochs], mode="lines+markers",
                            line=dict(color=colour), name=f"{name} (test)", legendgroup=name, showlegend=col == 1,
                            row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def nll_figure(curves: dict[str, list[dict]], pixels: int | None = None) -> go.Figure:
    """The IWAE estimate −L_k of the NLL against k (log axis): k = 1 is the ELBO; it falls as k grows."""
    fig = go.Figure()
    for i, (name, curve) in enumerate(curves.items()):
        fig.add_scatter(x=[p["k"] for p in curve], y=[p["nll_nats"] for p in curve], mode="lines+markers",
                        name=name, line=dict(color=PALETTE[i % 6]),
                        customdata=[p["bits_per_dim"] for p in curve],
                        hovertemplate="k=%{x}<br>NLL %{y:.2f} nats<br>%{customdata:.4f} bits/dim<extra>%{fullData.name}</extra>")
    ks = sorted({p["k"] for curve in curves.values() for p in curve})
    fig.update_xaxes(type="log", tickvals=ks, ticktext=[f"{k:,}" for k in ks],
                     title="k (importance samples); k = 1 is the ELBO")
    fig.update_yaxes(title="NLL estimate −L_k (nats per image, ↓)")
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12))
    return fig


def mig_figure(mig_by_model: dict[str, list[float]], factor_names: list[str]) -> go.Figure:
    """The gap of each factor and their mean (MIG), one bar group per model."""
    fig = go.Figure()
    for i, (name, gaps) in enumerate(mig_by_model.items()):
        fig.add_bar(x=[*factor_names, "MIG (mean)"], y=[*gaps, float(np.mean(gaps))], name=name,
                    marker_color=PALETTE[i % 6])
    fig.update_layout(barmode="group", yaxis=dict(title="normalised MI gap", range=[0, 1]), height=300,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12))
    return fig
