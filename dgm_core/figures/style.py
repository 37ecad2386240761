"""The look every figure shares: one palette, one set of margins, one legend placement."""
from __future__ import annotations

import numpy as np

#: One palette for every lab (matplotlib's tab10 order). A model keeps its colour across figures.
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
MODEL_COLOURS = {"gan": PALETTE[0], "wgan": PALETTE[1], "wgan-gp": PALETTE[2], "cgan": PALETTE[3]}
REAL_COLOUR = "#444444"        # real data points
ACCENT = PALETTE[4]            # arrows and highlights drawn over a figure
REFERENCE = "#888888"          # reference lines (a floor, log 2)
GREYS = [[0.0, "#000000"], [1.0, "#ffffff"]]


def colour(i: int) -> str:
    """The i-th series' colour."""
    return PALETTE[i % len(PALETTE)]


def margins(top: int = 40) -> dict:
    """Tight side and bottom margins; `top` leaves room for a title or subplot titles."""
    return dict(l=10, r=10, t=top, b=10)


def legend_below(y: float = -0.3) -> dict:
    return dict(orientation="h", y=y, x=0)


def legend_above(y: float = 1.12) -> dict:
    # at the right: the Space draws each figure's label in a box at its top left, which hid a legend there
    return dict(orientation="h", y=y, x=1, xanchor="right")


MAX_CURVE_POINTS = 400      # curves are thinned to this many points: drawing cost must not grow with training


def thin(steps: list, values: list, limit: int = MAX_CURVE_POINTS) -> tuple[list, list]:
    """At most `limit` points: means over equal runs of consecutive points (a curve of 10,000 steps
    is drawn from 400 averages, so a refresh costs the same at step 100 and at step 100,000)."""
    n = len(steps)
    if n <= limit:
        return list(steps), list(values)
    edges = np.linspace(0, n, limit + 1).astype(int)
    v = np.asarray(values, dtype=float)
    s = np.asarray(steps, dtype=float)
    return ([float(s[a:b].mean()) for a, b in zip(edges, edges[1:])],
            [float(v[a:b].mean()) for a, b in zip(edges, edges[1:])])


def not_trained_yet(fig, text: str = "no steps yet: the curves start with the first step (Train, Run or Step)"):
    """Say so on a curve figure of a live run at step 0, instead of leaving an empty frame."""
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font=dict(size=13, color="#666"))
    return fig
