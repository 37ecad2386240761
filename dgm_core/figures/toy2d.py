"""The live 2-D panel shared by every lab that trains on 2-D points: a field on a grid (a GAN's
discriminator or critic, a flow's density, an energy), the real points, the model's points
(generated samples, chain states) and optional arrows (where a loss pushes each point)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dgm_core.figures.style import ACCENT, REAL_COLOUR, legend_below, margins


def live_panel_figure(view, real: np.ndarray, colour: str, title: str | None = None) -> go.Figure:
    """One `dgm_core.live.LiveView` over the real points. Arrows are scaled to a common length
    (the longest 0.6), so their relative lengths are kept."""
    fig = go.Figure()
    field = view.field
    if field is not None:
        fig.add_heatmap(x=field.axis, y=field.axis, z=field.values, colorscale=field.colorscale, opacity=0.55, name=field.label,
                        showlegend=False, zmin=field.zmin, zmax=field.zmax,
                        colorbar=dict(title=dict(text=field.label, side="right"), thickness=12, len=0.75, y=0.5),
                        hovertemplate=f"{field.label} = %{{z:.3f}}<extra></extra>")
    fig.add_scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real data", marker=dict(size=3, color=REAL_COLOUR))
    fig.add_scatter(x=view.points[:, 0], y=view.points[:, 1], mode="markers", name=view.points_label,
                    marker=dict(size=3, color=colour))
    if view.arrows is not None:
        starts, push = view.arrows
        norms = np.linalg.norm(push, axis=1, keepdims=True)
        direction = push / np.maximum(norms.max(), 1e-12) * 0.6
        # each arrow from its start to start + direction, a NaN (a gap) after it: one trace, as an array
        segments = np.stack([starts, starts + direction, np.full_like(starts, np.nan)], axis=1).reshape(-1, 2)
        fig.add_scatter(x=segments[:, 0], y=segments[:, 1], mode="lines", name=view.arrows_label, line=dict(width=1, color=ACCENT))
    extent = [field.axis[0], field.axis[-1]] if field is not None else [-3, 3]
    # constrain="domain": keep the square aspect by shrinking the plot area, not by widening the range
    fig.update_xaxes(range=extent, showgrid=False, zeroline=False, title_text="x₁", constrain="domain")
    fig.update_yaxes(range=extent, showgrid=False, zeroline=False, scaleanchor="x", title_text="x₂", constrain="domain")
    fig.update_layout(title=dict(text=f"{title or view.title} · step {view.steps}", x=0.02), height=430,
                      margin=margins(40), showlegend=True,
                      legend={**legend_below(-0.18), "font": dict(size=11), "itemsizing": "constant"})
    return fig
