"""Figures of the diffusion lab: the forward process, the live panels' sample paths, the live curves, sample
quality against sampler calls (2-D and digits) and the learned score's error per time. The live panels
themselves are the shared figures/toy2d.py."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dgm_core.figures.style import REAL_COLOUR, REFERENCE, colour, legend_below, margins, not_trained_yet, thin

#: One colour per live model, kept across figures.
KIND_COLOURS = {"DDPM": colour(0), "Score matching": colour(1), "Flow matching": colour(2),
                "Flow matching, OT coupling": colour(3)}
SAMPLER_DASH = {"DDPM ancestral": "solid", "DDIM": "dash", "annealed Langevin": "solid", "Euler": "solid", "Heun": "dash"}
CALLS_AXIS = "model calls per sample (log scale)"



def _floor_line(fig: go.Figure, x_from: float, x_to: float, y: float, name: str, **subplot) -> None:
    """A reference level drawn as a dotted trace named in the legend. Not add_hline's annotation: on a log
    axis plotly reads an annotation's y in log10 units, so a floor of 36.4 put its label at 10^36.4 and
    the axis ran up to it, flattening every curve (the GAN figure keeps its own log10 annotation)."""
    fig.add_scatter(x=[x_from, x_to], y=[y, y], mode="lines", name=name, line=dict(color=REFERENCE, dash="dot"),
                    hovertemplate=f"{name}: %{{y:.3g}}<extra></extra>", **subplot)

def forward_figure(report: dict, title: str) -> go.Figure:
    """The data noised to a time: the points, over the noised law's log density where it is known."""
    fig = go.Figure()
    if report["density"] is not None:
        axis, log_p = report["density"]
        fig.add_heatmap(x=axis, y=axis, z=np.maximum(log_p, log_p.max() - 10), colorscale="Blues", opacity=0.6,
                        colorbar=dict(title=dict(text="log density (nats)", side="right"), thickness=12, len=0.75),
                        hovertemplate="log density = %{z:.2f} nats<extra></extra>", name="true log density")
    x = report["points"]
    fig.add_scatter(x=x[:, 0], y=x[:, 1], mode="markers", marker=dict(size=3, color=colour(0)), name="noised points")
    limit = report["limit"]
    fig.update_xaxes(range=[-limit, limit], title_text="x₁", constrain="domain", zeroline=False, showgrid=False)
    fig.update_yaxes(range=[-limit, limit], title_text="x₂", scaleanchor="x", constrain="domain", zeroline=False,
                     showgrid=False)
    fig.update_layout(title=dict(text=title, x=0.02), height=430, margin=margins(40), legend=legend_below(-0.15))
    return fig


def add_paths(fig: go.Figure, paths: np.ndarray, name: str) -> go.Figure:
    """Sample paths (paths, states, 2) from noise to data as thin lines, each ending in a dot."""
    gap = np.full((len(paths), 1, 2), np.nan)
    lines = np.concatenate([paths, gap], 1).reshape(-1, 2)
    fig.add_scatter(x=lines[:, 0], y=lines[:, 1], mode="lines", line=dict(width=1, color="rgba(0,0,0,0.45)"), name=name)
    fig.add_scatter(x=paths[:, -1, 0], y=paths[:, -1, 1], mode="markers", marker=dict(size=5, color="black"),
                    showlegend=False, hoverinfo="skip")
    return fig


def live_curves_figure(histories: dict[str, list[dict]], metrics: dict[str, list[dict]], titles: dict[str, str],
                       floor: float | None = None) -> go.Figure:
    """Each live model's training loss and its samples' energy distance to held-out data over Adam steps."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss (each its own objective)",
                                                        "energy distance to held-out data"))
    for kind, history in histories.items():
        history, name = list(history), titles[kind]
        if history:
            x, y = thin([h["step"] for h in history], [h["loss"] for h in history])
            fig.add_scatter(x=x, y=y, name=name, legendgroup=kind, line=dict(color=KIND_COLOURS[name]), row=1, col=1)
        records = list(metrics.get(kind, []))
        if records:
            fig.add_scatter(x=[r["step"] for r in records], y=[r["energy_distance"] for r in records], name=name,
                            legendgroup=kind, showlegend=not history, line=dict(color=KIND_COLOURS[name]), row=1, col=2)
    steps = [r["step"] for records in metrics.values() for r in records]
    if floor is not None and steps:
        _floor_line(fig, min(steps), max(steps), floor, "data against itself", row=1, col=2)
    fig.update_xaxes(title_text="Adam steps")
    fig.update_yaxes(title_text="loss per point (log scale)", type="log", dtick=1, row=1, col=1)
    fig.update_yaxes(title_text="energy distance (log scale)", type="log", dtick=1, row=1, col=2)
    fig.update_layout(height=330, margin=margins(40), legend=legend_below(-0.35))
    return fig if any(histories.values()) else not_trained_yet(fig)


def quality_against_calls_figure(rows: list[dict], floor: tuple[float, float]) -> go.Figure:
    """Energy distance against model calls, one line per model and sampler, ± sd over seeds."""
    fig = go.Figure()
    for key in dict.fromkeys((r["model"], r["sampler"]) for r in rows):
        mine = sorted((r for r in rows if (r["model"], r["sampler"]) == key), key=lambda r: r["model calls"])
        fig.add_scatter(x=[r["model calls"] for r in mine], y=[r["energy distance"] for r in mine],
                        error_y=dict(array=[r["sd over seeds"] or 0 for r in mine], thickness=1),
                        name=f"{key[0]}: {key[1]}", mode="lines+markers",
                        line=dict(color=KIND_COLOURS.get(key[0], REAL_COLOUR), dash=SAMPLER_DASH.get(key[1], "solid")))
    calls = [r["model calls"] for r in rows]
    if calls:
        _floor_line(fig, min(calls), max(calls), floor[0], "data against itself")
    fig.update_xaxes(type="log", dtick=1, title_text=CALLS_AXIS)
    fig.update_yaxes(type="log", dtick=1, title_text="energy distance to held-out data (log scale)")
    fig.update_layout(height=420, margin=margins(30), legend=legend_below(-0.22))
    return fig


def score_error_figure(errors: dict[str, list[dict]]) -> go.Figure:
    """The learned score's mean squared error relative to the true score's mean square, per time."""
    fig = go.Figure()
    for name, rows in errors.items():
        fig.add_scatter(x=[r["time"] for r in rows], y=[r["relative error"] for r in rows], name=name,
                        mode="lines+markers", line=dict(color=KIND_COLOURS.get(name, REAL_COLOUR)))
    fig.update_xaxes(title_text="time (0: the data, 1: the most noise trained with)")
    fig.update_yaxes(type="log", dtick=1, title_text="relative squared error (log scale)")
    fig.update_layout(height=340, margin=margins(30), legend=legend_below(-0.3))
    return fig


def fd_against_calls_figure(curves: dict[str, list[dict]], floor: float | None) -> go.Figure:
    """Each digits checkpoint's Fréchet distance against model calls, one line per checkpoint and sampler."""
    fig = go.Figure()
    for i, (name, rows) in enumerate(curves.items()):
        for sampler in dict.fromkeys(r["sampler"] for r in rows):
            mine = sorted((r for r in rows if r["sampler"] == sampler), key=lambda r: r["model calls"])
            fig.add_scatter(x=[r["model calls"] for r in mine], y=[r["fd"] for r in mine], mode="lines+markers",
                            error_y=dict(array=[r["fd_sd"] or 0 for r in mine], thickness=1), name=f"{name}: {sampler}",
                            line=dict(color=colour(i), dash=SAMPLER_DASH.get(sampler, "solid")))
    calls = [r["model calls"] for rows in curves.values() for r in rows]
    if floor is not None and calls:
        _floor_line(fig, min(calls), max(calls), floor, f"real digits against real digits ({floor:.1f})")
    # Ticks at the budgets measured (10 and 20 on mnist-5k showed a lone "10"), and a log FD axis labelled at
    # 1, 2 and 5 per decade only (its automatic labels crowded a narrow range).
    fig.update_xaxes(type="log", tickvals=sorted(set(calls)), tickformat="~g", title_text=CALLS_AXIS)
    fig.update_yaxes(type="log", dtick="D2", tickformat="~g", title_text="Fréchet distance (judge's features, log scale)")
    fig.update_layout(height=420, margin=margins(30), legend=legend_below(-0.22))
    return fig
