"""The Space's normalizing-flow tab: the same dgm_core.flow calls and figures as labs/flows.py."""
from __future__ import annotations

from functools import lru_cache

import gradio as gr
import pandas as pd
import torch

from dgm_core import catalogue, flow
from dgm_core.figures.flow import (
    bits_per_dim_curve_figure,
    hutchinson_figure,
    ood_histogram_figure,
    prior_comparison_figure,
    warp_figure,
)
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.style import colour
from dgm_core.figures.toy2d import live_panel_figure
from dgm_core.labs import flows as flows_lab
from space import live
from space.inputs import cleared, keeps_figures, readable_errors, real, says_why, whole
from space.inputs import loaded as _loaded

WARP_CHOICES = ["data → z (forward)", "z → data (inverse)"]
SCORES = list(flows_lab.OOD_SCORES)


def _flow_names() -> list[str]:
    return list(flows_lab.flow_runs())


def _choice(value, choices: list[str], name: str) -> str:
    if value not in choices:
        raise gr.Error(f"{name}: choose one of {', '.join(choices) or '(none shipped here)'}.")
    return value


# ------------------------------------------------------------------------ live training
def _config(data, couplings, hidden, lr, seed) -> flow.ToyFlowConfig:
    r = flows_lab.LIVE_RANGES
    return flow.ToyFlowConfig(dataset=data, couplings=whole(couplings, "coupling layers", *r["couplings"]),
                              hidden=whole(hidden, "MLP width", *r["hidden"]), lr=real(lr, "learning rate", *r["lr"]),
                              seed=whole(seed, "seed", *r["seed"]))


def _drawer(direction: str):
    """The tab's outputs for one dgm_core.live.LiveSnapshot: the density panel, the warp in `direction`, the status."""
    def draw(snapshot, until: int):
        panel = live_panel_figure(snapshot.views["realnvp"], snapshot.real, colour(1), "RealNVP: log density and samples")
        held_out = snapshot.metrics["realnvp"][-1]["held_out_nll"] if snapshot.metrics["realnvp"] else None
        text = live.status(snapshot, until) + (f" · held-out NLL **{held_out:.3f}** nats per point"
                                               if held_out is not None else "")
        warp = warp_figure(snapshot.details["realnvp"]["warp"], "forward" if direction == WARP_CHOICES[0] else "inverse")
        return panel, warp, text
    return draw


def _run(data, config, direction: str) -> live.SpaceRun:
    return live.SpaceRun(flow.live_session(config), flows_lab.describe_settings(config) + live.data_caption(data),
                         _drawer(direction))


@readable_errors
def live_training(dataset, steps, steps_per_refresh, couplings, hidden, lr, seed, direction,
                  points_file=None, drawing=None, request: gr.Request = None):
    """Train a 2-D RealNVP from scratch on the chosen data, yielding the density panel and the
    layer-by-layer warp after every refresh (space/live.py's stream)."""
    def build():
        chosen = _choice(direction, WARP_CHOICES, "warp")
        data = live.resolve_data(dataset, points_file, drawing)
        return _run(data, _config(data, couplings, hidden, lr, seed), chosen)

    yield from live.start(build, steps, steps_per_refresh, request)


LIVE_DEFAULTS = dict(dataset="moons", steps=1500, steps_per_refresh=100)


def _first_picture():
    """What the live tab shows before any click: the flow at step 0 with the default settings."""
    run = _run(LIVE_DEFAULTS["dataset"], flow.ToyFlowConfig(dataset=LIVE_DEFAULTS["dataset"]), WARP_CHOICES[0])
    return run.draw(run.session.snapshot(settings=run.settings), LIVE_DEFAULTS["steps"])


# ------------------------------------------------------------------------- image samples
@lru_cache(maxsize=4)
def _gmm_reference(dataset: str, size: int, levels: int, alpha: float) -> dict:
    return flows_lab.gmm_reference(dataset, size, levels, alpha)


def _same_data_histories(dataset: str) -> dict[str, dict]:
    """The bits/dim curves of every shipped flow on `dataset` (uniform and variational dequantization)."""
    return {n: _loaded(n).history for n, item in flows_lab.flow_runs().items() if item.dataset == dataset}


@readable_errors
def samples(name, temperature, seed):
    name = _choice(name, _flow_names(), "checkpoint")
    temperature, seed = real(temperature, "temperature", 0.1, 1.5), whole(seed, "seed", 0, 10_000)
    checkpoint = _loaded(name)
    model = checkpoint.model
    images = model.sample(64, torch.Generator().manual_seed(seed), temperature)
    grid = image_grid_figure(images, 8, f"64 samples at T = {temperature:g}")
    gmm = _gmm_reference(catalogue.dataset_of(checkpoint), model.image_size, model.levels, model.alpha)
    text = flows_lab.samples_sentence(images, checkpoint, temperature) + "\n\n" + flows_lab.test_bits_sentence(checkpoint, gmm)
    curve = bits_per_dim_curve_figure(_same_data_histories(catalogue.dataset_of(checkpoint)),
                                      {flows_lab.gmm_label(gmm): gmm["bits_per_dim"]})
    return grid, text, curve


# ------------------------------------------------------------------------ OOD detection
@lru_cache(maxsize=4)
def _ood(name: str):
    return flows_lab.flow_ood_report(_loaded(name))


@readable_errors
def ood(name, score):
    name, score = _choice(name, _flow_names(), "model"), _choice(score, SCORES, "score")
    report = _ood(name)
    values, x_title = flows_lab.ood_scores(report, score), flows_lab.OOD_SCORES[score][0]
    table = pd.DataFrame(report.table)
    for column in table.columns[2:]:
        share = column == "more likely than the median test image"          # a share of the set's images: in %
        table[column] = table[column].map(lambda v, share=share: f"{v:.1%}" if share else f"{v:.3f}")
    note = flows_lab.auroc_note(report) + "".join(f"\n\n**{finding}**" for finding in flows_lab.ood_findings(report))
    return ood_histogram_figure(values, report.in_name, x_title), table, note


# ------------------------------------------------------------------ Hutchinson playground
@lru_cache(maxsize=64)
def _study(dim: int, lipschitz: float, draws: int, p_stop: float, seed: int):
    return flow.hutchinson_study(dim, lipschitz, flows_lab.HUTCHINSON_TERMS, flows_lab.HUTCHINSON_PROBES, draws, p_stop, seed)


@readable_errors
def hutchinson(dim, lipschitz, draws, p_stop, seed):
    R = flows_lab.HUTCHINSON_RANGES
    dim, lipschitz = whole(dim, "dimension d", *R["dim"]), real(lipschitz, "Lipschitz bound c", *R["lipschitz"])
    draws = whole(draws, "estimates per setting", *R["draws"])
    p_stop = real(p_stop, "roulette stop probability p", *R["p_stop"])
    study = _study(dim, lipschitz, draws, p_stop, whole(seed, "seed", *R["seed"]))
    text = (f"exact log det(I + J) = **{study.exact:.4f}** nats (autograd Jacobian) · ‖J‖₂ at x = "
            f"{study.jacobian_norm:.3f} (bound c = {lipschitz:.2f}) · {flows_lab.roulette_variance_note(study, p_stop)}")
    return text, hutchinson_figure(study), pd.DataFrame(flows_lab.hutchinson_table(study)).round(4)


# ------------------------------------------------------------------- the flow prior VAE
@readable_errors
def prior_comparison():
    from dgm_core.vae_flow_prior import prior_projection

    groups = flows_lab.flow_prior_groups()
    if not groups or not all(groups.values()):
        raise gr.Error("The prior comparison needs the shipped vae-flow-prior-digits and vae-digits-beta1 checkpoints.")
    rows, projections, grids = [], {}, []
    for label, members in groups.items():
        for member in members:
            checkpoint = _loaded(member)
            curve = {c["k"]: c["nll_nats"] for c in checkpoint.history.get("nll", {}).get("curve", [])}
            rows.append({"prior": label, "checkpoint": member, "seed": checkpoint.history["run"].get("seed", 0),
                         "parameters": sum(p.numel() for p in checkpoint.model.parameters()),
                         "test ELBO (nats)": round(checkpoint.history["epochs"][-1]["elbo"], 2),
                         "IWAE NLL, k = 1000 (nats)": curve.get(1000), "IWAE NLL, k = 5000 (nats)": curve.get(5000)})
        first = _loaded(members[0])
        images = catalogue.test_images(catalogue.dataset_of(first), first.model.image_size).images[:1000]
        projections[f"{label} ({members[0]})"] = prior_projection(first.model, images,
                                                                  generator=torch.Generator().manual_seed(0))
        grids.append(image_grid_figure(first.model.sample(32, torch.Generator().manual_seed(0)), 8, f"{label}: samples"))
    return pd.DataFrame(rows).round(2), prior_comparison_figure(projections), *grids


def flows_tab() -> None:
    gr.Markdown("RealNVP: invertible coupling layers, exact likelihood, and what that likelihood can and cannot tell.")
    with gr.Tab("Live 2-D flow"):
        r = flows_lab.LIVE_RANGES
        with gr.Row():
            with gr.Column(scale=2):
                dataset, points_file, drawing = live.data_inputs(LIVE_DEFAULTS["dataset"])
            steps, per_refresh = live.step_boxes(LIVE_DEFAULTS["steps"], LIVE_DEFAULTS["steps_per_refresh"])
        with gr.Row():
            couplings = gr.Number(6, precision=0, label="coupling layers ({}–{})".format(*r["couplings"]))
            hidden = gr.Number(64, precision=0, label="MLP width ({}–{})".format(*r["hidden"]))
            lr = gr.Number(2e-3, label="learning rate ({:g}–{:g})".format(*r["lr"]))
            seed = gr.Number(0, precision=0, label="seed ({}–{:,})".format(*r["seed"]))
            direction = gr.Radio(WARP_CHOICES, value=WARP_CHOICES[0], label="warp")
        gr.Markdown("**Train the flow from scratch** starts a new flow from step 0 with the settings shown; "
                    "**Pause** stops it, **Resume** goes on to 'steps', **Step** trains one refresh's worth.")
        controls = live.buttons("Train the flow from scratch")
        first_panel, first_warp, first_status = _first_picture()
        status = gr.Markdown(first_status)
        panel = gr.Plot(first_panel, label="density")
        warp = gr.Plot(first_warp, label="warp")
        live.wire("flow", controls, live_training, [dataset, steps, per_refresh, couplings, hidden, lr, seed, direction,
                                                     points_file, drawing],
                  steps, per_refresh, [panel, warp, status], status_at=2)
    names = _flow_names() or ["(none shipped)"]
    with gr.Tab("Image samples"):
        with gr.Row():
            name = gr.Dropdown(names, value=names[0], label="checkpoint")
            temperature = gr.Slider(0.1, 1.5, 1.0, step=0.05, label="temperature T (z ~ N(0, T² I))")
            sample_seed = gr.Number(0, precision=0, label="seed")
        show = gr.Button("Sample", variant="primary")
        grid, text, curve = gr.Plot(), gr.Markdown(), gr.Plot()
        show.click(keeps_figures(outputs=3, message_at=1)(samples), [name, temperature, sample_seed], [grid, text, curve],
                   api_name="flow_samples")
        name.change(cleared(3, 1, "The checkpoint is now **{choice}**: press **Sample** to draw it."), name,
                    [grid, text, curve], queue=False)
    with gr.Tab("Likelihood & OOD"):
        with gr.Row():
            ood_name = gr.Dropdown(names, value=names[0], label="model",
                                   info="realnvp-shapes, trained on shapes and scored on digits, is the reverse direction")
            score = gr.Radio(SCORES, value=SCORES[0], label="score")
        score_button = gr.Button("Score the OOD sets", variant="primary")
        histogram, table, note = gr.Plot(), gr.Dataframe(label="AUROC, OOD positive"), gr.Markdown()
        score_button.click(keeps_figures(outputs=3, message_at=2)(ood), [ood_name, score], [histogram, table, note],
                           api_name="flow_ood")
        gr.on([ood_name.change, score.change],
              lambda chosen, chosen_score: cleared(3, 2, "Now **{choice}**: press **Score the OOD sets** to score it.")(
                  f"{chosen}, {chosen_score}"), [ood_name, score], [histogram, table, note], queue=False)
    with gr.Tab("Hutchinson estimator"):
        R = flows_lab.HUTCHINSON_RANGES
        with gr.Row():
            dim = gr.Number(8, precision=0, label=f"dimension d ({R['dim'][0]}–{R['dim'][1]})")
            lipschitz = gr.Number(0.9, label="Lipschitz bound c (0.05–0.99)")
            draws = gr.Number(300, precision=0, label="estimates per setting")
            p_stop = gr.Number(0.1, label="roulette stop probability p (N ~ Geometric(p))")
            hutch_seed = gr.Number(0, precision=0, label="seed")
        estimate = gr.Button("Estimate", variant="primary")
        exact, figure, rows = gr.Markdown(), gr.Plot(), gr.Dataframe()
        estimate.click(keeps_figures(outputs=3, message_at=0)(hutchinson), [dim, lipschitz, draws, p_stop, hutch_seed],
                       [exact, figure, rows],
                       api_name="flow_hutchinson")
    with gr.Tab("VAE with a flow prior"):
        gr.Markdown("The VAE of the VAE lab with its N(0, I) prior replaced by a RealNVP over z, trained jointly with "
                    "the same encoder, decoder, epochs and settings, two seeds each. IWAE NLL: k importance samples "
                    "on the first 50 test images (lower is better). In the scatter, each panel has its own scale: a "
                    "learned prior does not tie q(z) to unit variance.")
        compare = gr.Button("Compare the priors", variant="primary")
        why_prior = gr.Markdown()
        prior_table, projection = gr.Dataframe(), gr.Plot()
        with gr.Row():
            gaussian_samples, flow_samples = gr.Plot(), gr.Plot()
        compare.click(says_why(prior_comparison, 4), None, [prior_table, projection, gaussian_samples, flow_samples, why_prior],
                      api_name="flow_prior")
