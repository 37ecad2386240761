"""Figures of the energy-based lab: the energies of data and chains over training, and the chains'
energy over SGLD steps."""
from __future__ import annotations

import plotly.graph_objects as go

from dgm_core.figures.style import REAL_COLOUR, colour, legend_below, margins, not_trained_yet, thin


def training_energies_figure(history: list[dict], unit: str = "Adam steps") -> go.Figure:
    """Mean energy of the data batch and of the SGLD chains at each training step: contrastive
    divergence pushes the first down and the second up; their gap is the CD term."""
    steps = [h["step"] for h in history]
    fig = go.Figure()
    for key, name, line in (("energy_data", "E(data)", REAL_COLOUR), ("energy_sample", "E(chains)", colour(1))):
        x, y = thin(steps, [h[key] for h in history])
        fig.add_scatter(x=x, y=y, mode="lines", name=name, line=dict(color=line))
    fig.update_layout(height=300, margin=margins(20), legend=legend_below(-0.35), xaxis_title=unit,
                      yaxis_title="mean energy (low: likely)")
    return fig if steps else not_trained_yet(fig)


def chain_energy_figure(curves: dict[str, list[float]]) -> go.Figure:
    """The chains' mean energy after each SGLD step, one line per model (step 0: the starts)."""
    fig = go.Figure()
    for i, (name, curve) in enumerate(curves.items()):
        fig.add_scatter(x=list(range(len(curve))), y=curve, mode="lines+markers", name=name, line=dict(color=colour(i)))
    fig.update_layout(height=360, margin=margins(20), legend=legend_below(-0.35),
                      xaxis_title="sampler step (SGLD, or JEM++'s outer step; 0: the starts)",
                      yaxis_title="chains' mean E(x), low = likely")   # short: a long title was cut in the Space
    return fig
