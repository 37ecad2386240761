"""Image grids, shared by every lab that shows images (VAE, GANs, flows, energy models, VQ-VAE).

Images are drawn as one plotly Heatmap of a tiled mosaic: a single trace renders fast enough
for a latent slider to feel live (see benchmarks/vae_slider.py)."""
from __future__ import annotations

import textwrap

import numpy as np
import plotly.graph_objects as go
import torch

from dgm_core.figures.style import GREYS, margins


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
                      col_labels: list[str] | None = None, height: int | None = None,
                      title_chars: int | None = None) -> go.Figure:
    """A grid of images, optionally with row and column labels (e.g. latent dims × values); a title longer
    than `title_chars` is broken into lines of at most that many characters (plotly does not wrap titles, and
    a narrow figure cuts a long one off)."""
    lines = textwrap.wrap(title, title_chars) if title and title_chars else [title] if title else []
    title = "<br>".join(lines)
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
    fig.update_layout(title=title or None, margin=margins(20 + 20 * len(lines) if title else 10),
                      height=height or max(160, min(700, int(90 * rows / (h + 1)) + 60)), plot_bgcolor="white")
    return fig
