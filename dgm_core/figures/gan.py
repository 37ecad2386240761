"""Figures of the GAN lab: the live 2-D panels, the loss and coverage curves, the 1-D theory,
and the FID / class-histogram curves of trained checkpoints."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLOURS = {"gan": "#1f77b4", "wgan": "#d62728", "wgan-gp": "#2ca02c", "cgan": "#9467bd"}
TITLES = {"gan": "GAN", "wgan": "WGAN (clipping)", "wgan-gp": "WGAN-GP", "cgan": "cGAN"}
MAX_CURVE_POINTS = 400      # curves are thinned to this many points: drawing cost must not grow with training


def toy_panel_figure(view, real: np.ndarray) -> go.Figure:
    """Real (grey) and generated (colour) points over the discriminator / critic field, with the
    generator's gradient arrows −∂L_G/∂G(z) (scaled to a common length for visibility).
    `view` is a dgm_core.gan.PanelView."""
    kind, axis = view.kind, view.axis
    norms = np.linalg.norm(view.arrow_push, axis=1, keepdims=True)
    direction = view.arrow_push / np.maximum(norms.max(), 1e-12) * 0.6          # relative lengths kept
    xs, ys = [], []
    for p, d in zip(view.arrow_points, direction):
        xs += [p[0], p[0] + d[0], None]
        ys += [p[1], p[1] + d[1], None]
    field_name = "σ(D(x))" if kind == "gan" else "critic D(x)"
    fig = go.Figure(go.Heatmap(
        x=axis, y=axis, z=view.field, colorscale="RdBu", opacity=0.55, name=field_name, showlegend=False,
        zmin=0.0 if kind == "gan" else None, zmax=1.0 if kind == "gan" else None,
        colorbar=dict(title=dict(text=field_name, side="right"), thickness=12, len=0.75, y=0.5),
        hovertemplate=f"{field_name} = %{{z:.3f}}<extra></extra>"))
    fig.add_scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real data", marker=dict(size=3, color="#444"))
    fig.add_scatter(x=view.fake[:, 0], y=view.fake[:, 1], mode="markers", name="generated",
                    marker=dict(size=3, color=COLOURS[kind]))
    fig.add_scatter(x=xs, y=ys, mode="lines", name="generator's push", line=dict(width=1, color="#ff7f0e"))
    # constrain="domain": keep the square aspect by shrinking the plot area, not by widening the range
    fig.update_xaxes(range=[axis[0], axis[-1]], showgrid=False, zeroline=False, title_text="x₁", constrain="domain")
    fig.update_yaxes(range=[axis[0], axis[-1]], showgrid=False, zeroline=False, scaleanchor="x", title_text="x₂",
                     constrain="domain")
    fig.update_layout(title=dict(text=f"{TITLES[kind]} · step {view.steps}", x=0.02), height=430,
                      margin=dict(l=10, r=10, t=40, b=10), showlegend=True,
                      legend=dict(orientation="h", y=-0.18, x=0, font=dict(size=11), itemsizing="constant"))
    return fig


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


def loss_curves_figure(histories: dict[str, list[dict]]) -> go.Figure:
    """Discriminator / critic loss, generator loss, and the critics' Wasserstein estimate per step."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("discriminator / critic loss", "generator loss",
                                                        "critic's Wasserstein estimate"))
    for kind, history in histories.items():
        history = list(history)           # a snapshot: training may append while this draws
        if not history:
            continue
        steps, colour = [h["step"] for h in history], COLOURS[kind]
        curves = [("loss_d", 1), ("loss_g", 2)] + ([("wasserstein", 3)] if "wasserstein" in history[-1] else [])
        for key, col in curves:
            x, y = thin(steps, [h[key] for h in history])
            fig.add_scatter(x=x, y=y, name=TITLES[kind], showlegend=col == 1, line=dict(color=colour),
                            legendgroup=kind, row=1, col=col)
    fig.update_xaxes(title_text="step (one generator update)")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.35))
    return fig


def coverage_figure(coverage: dict[str, list[dict]], modes: int) -> go.Figure:
    """Modes captured and the share of high-quality samples over training."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"modes captured (of {modes})", "high-quality samples"))
    for kind, rows in coverage.items():
        steps = [r["step"] for r in rows]
        fig.add_scatter(x=steps, y=[r["captured"] for r in rows], name=TITLES[kind], legendgroup=kind,
                        line=dict(color=COLOURS[kind], shape="hv"), row=1, col=1)
        fig.add_scatter(x=steps, y=[r["high_quality"] for r in rows], showlegend=False, legendgroup=kind,
                        line=dict(color=COLOURS[kind]), row=1, col=2)
    fig.update_yaxes(range=[0, modes + 0.5], row=1, col=1)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_xaxes(title_text="step (one generator update)")
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.35))
    return fig


def theory_densities_figure(game) -> go.Figure:
    """p_data, p_g and the optimal discriminator D*(x) = p_data / (p_data + p_g)."""
    x = game.x
    keep = (x > min(game.mu_data, game.theta) - 5) & (x < max(game.mu_data, game.theta) + 5)
    log_d, log_g = game.log_densities(x[keep])
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=x[keep], y=np.exp(log_d), name="p_data", line=dict(color="#444"))
    fig.add_scatter(x=x[keep], y=np.exp(log_g), name="p_g", line=dict(color=COLOURS["gan"]))
    fig.add_scatter(x=x[keep], y=game.optimal_discriminator(x[keep]), name="D*(x)",
                    line=dict(color="#ff7f0e", dash="dash"), secondary_y=True)
    fig.update_yaxes(title_text="density", secondary_y=False)
    fig.update_yaxes(title_text="D*(x)", range=[0, 1.02], secondary_y=True)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12))
    return fig


#: Gradients below this are drawn as gaps on the log axis (θ = 0 gives exactly 0).
GRADIENT_FLOOR = 1e-12


def separation_figure(curves: dict[str, np.ndarray], current: float) -> go.Figure:
    """As p_g moves away: JS saturates at log 2 while W₁ keeps growing; the saturating generator
    gradient vanishes, the non-saturating one does not."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("divergence (nats)", "|∂L_G/∂θ| at D* (log scale)"))
    s = curves["shift"]
    fig.add_scatter(x=s, y=curves["js"], name="JS(p_data ‖ p_g)", line=dict(color=COLOURS["gan"]), row=1, col=1)
    fig.add_scatter(x=s, y=curves["wasserstein"], name="W₁(p_data, p_g)", line=dict(color=COLOURS["wgan-gp"]),
                    row=1, col=1)
    fig.add_hline(y=float(np.log(2)), line=dict(dash="dot", color="#888"), annotation_text="log 2", row=1, col=1)
    # At θ = 0 both gradients are exactly 0, which a log axis cannot show: left out (a gap), and the
    # axis spans the decades the curves actually take, so the two are visibly apart.
    gradients = {name: np.where(curves[key] > GRADIENT_FLOOR, curves[key], np.nan)
                 for name, key in (("saturating loss", "saturating"), ("non-saturating loss", "non_saturating"))}
    for (name, values), colour in zip(gradients.items(), (COLOURS["wgan"], "#9467bd")):
        fig.add_scatter(x=s, y=values, name=name, line=dict(color=colour), row=1, col=2)
    for col in (1, 2):
        fig.add_vline(x=current, line=dict(color="#aaa"), row=1, col=col)
    shown = np.concatenate([v[np.isfinite(v)] for v in gradients.values()])
    low, high = (np.log10(shown.min()), np.log10(shown.max())) if len(shown) else (-8.0, 1.0)
    fig.update_yaxes(type="log", range=[np.floor(low) - 0.3, np.ceil(high) + 0.3], dtick=2, exponentformat="power",
                     row=1, col=2)
    fig.update_xaxes(title_text="shift θ of p_g from p_data")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.3))
    return fig


def fid_curves_figure(histories: dict[str, dict], floor: float | None, feature_name: str) -> go.Figure:
    """Fréchet distance of each checkpoint's samples per epoch, with real-vs-real as the floor."""
    fig = go.Figure()
    for kind, history in histories.items():
        epochs = [e for e in history.get("epochs", []) if "fid_classifier" in e]
        fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e["fid_classifier"] for e in epochs], name=TITLES[kind],
                        mode="lines+markers", line=dict(color=COLOURS[kind]))
    if floor is not None:
        fig.add_hline(y=floor, line=dict(dash="dot", color="#888"))
        # The label is a separate annotation: on a log axis plotly reads an annotation's y in log10
        # units, and add_hline's annotation_text put it at 10^floor, flattening every curve.
        fig.add_annotation(y=float(np.log10(floor)), yref="y", x=1, xref="x domain", xanchor="right",
                           yanchor="bottom", showarrow=False, text=f"real vs real (train vs test): {floor:.1f}",
                           font=dict(color="#666", size=11))
    # dtick=1: label the decades only (plotly's default labels 2 and 5 between them too, which read as values).
    fig.update_yaxes(type="log", dtick=1, exponentformat="none", title="Fréchet distance (log scale, ↓)")
    fig.update_xaxes(title="epoch")
    fig.update_layout(title=dict(text=f"Samples against the test set, in the {feature_name}", font=dict(size=13)),
                      height=380, margin=dict(l=10, r=10, t=70, b=10), legend=dict(orientation="h", y=1.1))
    return fig


def class_histogram_figure(history: dict, class_names: list[str], title: str) -> go.Figure:
    """The classifier's class counts of generated samples, one row per epoch: empty columns are
    classes the generator has dropped (mode collapse)."""
    epochs = [e for e in history.get("epochs", []) if "class_histogram" in e]
    z = np.array([e["class_histogram"] for e in epochs], dtype=float)
    z = z / np.maximum(z.sum(1, keepdims=True), 1)
    fig = go.Figure(go.Heatmap(z=z, x=class_names, y=[e["epoch"] for e in epochs], colorscale="Viridis",
                               zmin=0, zmax=max(0.3, float(z.max()) if z.size else 0.3),
                               hovertemplate="epoch %{y}, class %{x}: %{z:.1%}<extra></extra>"))
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="predicted class", yaxis_title="epoch")
    return fig
