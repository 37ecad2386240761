"""Figures of the GAN lab: the loss and coverage curves of the live 2-D models (their panels are
the shared figures/toy2d.py), the 1-D theory, and the FID / class-histogram curves of trained
checkpoints."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dgm_core.figures.style import MODEL_COLOURS as COLOURS
from dgm_core.figures.style import REAL_COLOUR, REFERENCE, legend_above, legend_below, margins, not_trained_yet, thin

TITLES = {"gan": "GAN", "wgan": "WGAN (clipping)", "wgan-gp": "WGAN-GP", "cgan": "cGAN"}
#: What one step of the live models is: the WGANs' step holds n_critic critic updates, the GAN's one.
STEP_AXIS = "generator updates (each after n_critic critic updates)"
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
    # One short x title per panel; what a step is goes once, under the legend.
    fig.update_xaxes(title_text="generator updates")
    fig.update_yaxes(title_text="GAN: nats · WGANs: critic units", row=1, col=1)
    fig.update_yaxes(title_text="GAN: nats · WGANs: critic units", row=1, col=2)
    fig.update_yaxes(title_text="E D(x) − E D(G(z)) (critic units)", row=1, col=3)
    fig.add_annotation(text=STEP_AXIS, xref="paper", yref="paper", x=1, y=-0.42, showarrow=False,
                       xanchor="right", font=dict(size=11, color="#666"))
    fig.update_layout(height=320, margin=margins(40), legend=legend_below(-0.35))
    return fig if any(histories.values()) else not_trained_yet(fig)


def coverage_figure(coverage: dict[str, list[dict]], modes: int) -> go.Figure:
    """Modes captured (within 3σ of a mode, solid; within the looser radius, dotted) and the share
    of high-quality samples over training."""
    loose = next((r["loose_radius"] for rows in coverage.values() for r in rows if "loose_radius" in r), None)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"modes captured (of {modes})",
                                                        "high-quality samples (within 3σ)"))
    for kind, rows in coverage.items():
        steps = [r["step"] for r in rows]
        fig.add_scatter(x=steps, y=[r["captured"] for r in rows], name=f"{TITLES[kind]} (3σ)", legendgroup=kind,
                        line=dict(color=COLOURS[kind], shape="hv"), row=1, col=1)
        if loose is not None:
            fig.add_scatter(x=steps, y=[r["captured_loose"] for r in rows], name=f"{TITLES[kind]} (radius {loose:g})",
                            legendgroup=kind, line=dict(color=COLOURS[kind], shape="hv", dash="dot"), row=1, col=1)
        fig.add_scatter(x=steps, y=[r["high_quality"] for r in rows], showlegend=False, legendgroup=kind,
                        line=dict(color=COLOURS[kind]), row=1, col=2)
    fig.update_yaxes(range=[0, modes + 0.5], title_text="modes", row=1, col=1)
    fig.update_yaxes(range=[0, 1], title_text="share of samples", row=1, col=2)
    fig.update_xaxes(title_text=STEP_AXIS)
    fig.update_layout(height=300, margin=margins(40), legend=legend_below(-0.4))
    return fig


def theory_densities_figure(game) -> go.Figure:
    """p_data, p_g and the optimal discriminator D*(x) = p_data / (p_data + p_g)."""
    x = game.x
    keep = (x > min(game.mu_data, game.theta) - 5) & (x < max(game.mu_data, game.theta) + 5)
    log_d, log_g = game.log_densities(x[keep])
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=x[keep], y=np.exp(log_d), name="p_data", line=dict(color=REAL_COLOUR))
    fig.add_scatter(x=x[keep], y=np.exp(log_g), name="p_g", line=dict(color=COLOURS["gan"]))
    fig.add_scatter(x=x[keep], y=game.optimal_discriminator(x[keep]), name="D*(x)",
                    line=dict(color="#ff7f0e", dash="dash"), secondary_y=True)
    fig.update_yaxes(title_text="density (per unit of x)", secondary_y=False)
    fig.update_yaxes(title_text="D*(x)", range=[0, 1.02], tickvals=[0, 0.25, 0.5, 0.75, 1], showgrid=False,
                     secondary_y=True)
    fig.update_xaxes(title_text="x")
    fig.update_layout(height=320, margin=margins(30), legend=legend_above())
    return fig


#: Gradients below this are drawn as gaps on the log axis (θ = 0 gives exactly 0).
GRADIENT_FLOOR = 1e-12


def separation_figure(curves: dict[str, np.ndarray], current: float) -> go.Figure:
    """As p_g moves away: JS saturates at log 2 while W₁ keeps growing; the saturating generator
    gradient vanishes, the non-saturating one does not. JS is in nats and W₁ in units of x, so
    each has its own panel."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("JS(p_data ‖ p_g)", "W₁(p_data, p_g)",
                                                        "|∂L_G/∂θ| at D* (log scale)"))
    s = curves["shift"]
    fig.add_scatter(x=s, y=curves["js"], name="JS(p_data ‖ p_g)", line=dict(color=COLOURS["gan"]), row=1, col=1)
    fig.add_hline(y=float(np.log(2)), line=dict(dash="dot", color=REFERENCE), annotation_text="log 2", row=1, col=1)
    fig.add_scatter(x=s, y=curves["wasserstein"], name="W₁(p_data, p_g)", line=dict(color=COLOURS["wgan-gp"]),
                    row=1, col=2)
    # At θ = 0 both gradients are exactly 0, which a log axis cannot show: left out (a gap), and the
    # axis spans the decades the curves actually take, so the two are visibly apart.
    gradients = {name: np.where(curves[key] > GRADIENT_FLOOR, curves[key], np.nan)
                 for name, key in (("saturating loss", "saturating"), ("non-saturating loss", "non_saturating"))}
    for (name, values), colour in zip(gradients.items(), (COLOURS["wgan"], COLOURS["cgan"])):
        fig.add_scatter(x=s, y=values, name=name, line=dict(color=colour), row=1, col=3)
    for col in (1, 2, 3):
        fig.add_vline(x=current, line=dict(color="#aaa"), row=1, col=col)
    shown = np.concatenate([v[np.isfinite(v)] for v in gradients.values()])
    low, high = (np.log10(shown.min()), np.log10(shown.max())) if len(shown) else (-8.0, 1.0)
    fig.update_yaxes(title_text="nats", row=1, col=1)
    fig.update_yaxes(title_text="units of x", row=1, col=2)
    fig.update_yaxes(type="log", range=[np.floor(low) - 0.3, np.ceil(high) + 0.3], dtick=2, exponentformat="power",
                     title_text="per unit of θ", row=1, col=3)
    fig.update_xaxes(title_text="|θ| (units of x)")
    fig.update_layout(height=320, margin=margins(40), legend=legend_below(-0.35))
    return fig


#: The x axes the checkpoint comparison can be drawn against: history key -> axis title.
FID_AXES = {"generator_updates": "generator updates",
            "step": "discriminator / critic updates",
            "seconds": "training wall-clock (seconds, on the CPU that trained it)"}


def fid_curves_figure(runs: dict[str, list[dict]], floor: float | None, feature_name: str,
                      x: str = "generator_updates") -> go.Figure:
    """Fréchet distance of each model's samples over training, one faint line per training seed
    and their mean in bold, against `x` (a key of FID_AXES), with real-vs-real as the floor.
    `runs`: kind -> the histories of its seeds."""
    fig = go.Figure()
    for kind, histories in runs.items():
        curves = []
        for seed, history in enumerate(histories):
            epochs = [e for e in history.get("epochs", []) if "fid_classifier" in e and x in e]
            curves.append(([e[x] for e in epochs], [e["fid_classifier"] for e in epochs]))
            if len(histories) > 1:
                fig.add_scatter(x=curves[-1][0], y=curves[-1][1], mode="lines", line=dict(color=COLOURS[kind], width=1),
                                opacity=0.35, legendgroup=kind, showlegend=False, name=f"{TITLES[kind]} seed {seed}")
        length = min(len(c[1]) for c in curves) if curves else 0
        if not length:
            continue
        mean_x = np.mean([c[0][:length] for c in curves], axis=0)
        mean_y = np.mean([c[1][:length] for c in curves], axis=0)
        what = f"mean of {len(curves)} seeds" if len(curves) > 1 else "one seed"
        fig.add_scatter(x=mean_x, y=mean_y, name=TITLES[kind], mode="lines", line=dict(color=COLOURS[kind], width=2.5),
                        legendgroup=kind, hovertemplate=f"{TITLES[kind]} ({what}): %{{y:.1f}} at %{{x:,.0f}}<extra></extra>")
    if floor is not None:
        fig.add_hline(y=floor, line=dict(dash="dot", color=REFERENCE))
        # The label is a separate annotation: on a log axis plotly reads an annotation's y in log10
        # units, and add_hline's annotation_text put it at 10^floor, flattening every curve.
        fig.add_annotation(y=float(np.log10(floor)), yref="y", x=1, xref="x domain", xanchor="right",
                           yanchor="bottom", showarrow=False, text=f"real vs real (train vs test): {floor:.1f}",
                           font=dict(color="#666", size=11))
    # dtick=1: label the decades only (plotly's default labels 2 and 5 between them too, which read as values).
    fig.update_yaxes(type="log", dtick=1, exponentformat="none", title="Fréchet distance (log scale, ↓)")
    fig.update_xaxes(title=FID_AXES[x])
    fig.update_layout(title=dict(text=f"Samples against the test set, in the {feature_name}", font=dict(size=13)),
                      height=380, margin=margins(70), legend=dict(orientation="h", y=1.1))
    return fig


def class_histogram_figure(history: dict, class_names: list[str], title: str) -> go.Figure:
    """The classifier's class counts of generated samples, one row per epoch, placed at the
    generator updates made by then: empty columns are classes the generator has dropped (mode
    collapse); a row concentrated on a few classes early in training is under-training, and
    spreads out as training goes on."""
    epochs = [e for e in history.get("epochs", []) if "class_histogram" in e]
    by_updates = all("generator_updates" in e for e in epochs)
    z = np.array([e["class_histogram"] for e in epochs], dtype=float)
    z = z / np.maximum(z.sum(1, keepdims=True), 1)
    y = [e["generator_updates"] if by_updates else e["epoch"] for e in epochs]
    axis = "generator updates" if by_updates else "epoch"
    fig = go.Figure(go.Heatmap(z=z, x=class_names, y=y, colorscale="Viridis",
                               zmin=0, zmax=max(0.3, float(z.max()) if z.size else 0.3),
                               colorbar=dict(title=dict(text="share of samples", side="right")),
                               hovertemplate=f"{axis} %{{y}}, class %{{x}}: %{{z:.1%}}<extra></extra>"))
    # A category axis with every class ticked: the digits "0".."9" were read as numbers and ticked at 0 and 5 only.
    fig.update_layout(title=title, height=320, margin=margins(40), yaxis_title=axis,
                      xaxis=dict(title="class the classifier reads", type="category", tickmode="array",
                                 tickvals=list(class_names), ticktext=list(class_names)))
    return fig
