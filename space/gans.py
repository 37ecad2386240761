"""The Space's GAN tab: the same dgm_core.gan calls and figures as labs/gans.py."""
from __future__ import annotations

import time
from functools import lru_cache

import gradio as gr
import numpy as np
import pandas as pd

from dgm_core import gan
from dgm_core.checkpoints import CheckpointError, load_checkpoint
from dgm_core.data import TOY_DISTRIBUTIONS
from dgm_core.features import CLASSIFIER
from dgm_core.figures.gan import (
    TITLES,
    class_histogram_figure,
    fid_curves_figure,
    loss_curves_figure,
    separation_figure,
    theory_densities_figure,
    toy_panel_figure,
)
from dgm_core.figures.vae import image_grid_figure
from space.inputs import readable_errors, real, whole

IMAGE_GANS = {"gan": "gan-digits", "wgan": "wgan-digits", "wgan-gp": "wgan-gp-digits"}
MAX_LIVE_STEPS = 5000
REFRESH_SECONDS = 1.0   # the live stream's updates come at most this often: see live_training


def _configs(dataset, n_critic, clip, gp_lambda, generator_loss, seed) -> dict[str, gan.ToyGANConfig]:
    """The three models' settings, each box checked against the page's range (gan.LIVE_RANGES)."""
    if dataset not in TOY_DISTRIBUTIONS:
        raise gr.Error(f"Unknown data {dataset!r}: choose one of {', '.join(TOY_DISTRIBUTIONS)}.")
    if generator_loss not in ("non-saturating", "saturating"):
        raise gr.Error("The GAN generator loss is 'non-saturating' or 'saturating'.")
    r = gan.LIVE_RANGES
    settings = dict(dataset=dataset, clip=real(clip, "clip c (WGAN)", *r["clip"]),
                    gp_lambda=real(gp_lambda, "λ (WGAN-GP)", *r["gp_lambda"]), generator_loss=generator_loss,
                    seed=whole(seed, "seed", *r["seed"]))
    n_critic = whole(n_critic, "n_critic (WGANs)", *r["n_critic"])
    return {kind: gan.default_config(kind, n_critic=1 if kind == "gan" else n_critic, **settings) for kind in gan.KINDS}


def _outputs(state: gan.SideBySide):
    real = next(iter(state.models.values())).pool[:500].numpy()
    panels = [toy_panel_figure(view, real) for view in state.view().values()]
    rows = []
    for kind, model in state.models.items():
        cover = state.coverage[kind][-1] if state.coverage[kind] else {}
        rows.append({"model": TITLES[kind], "steps": model.steps, "modes captured": cover.get("captured"),
                     "high-quality share": None if not cover else round(cover["high_quality"], 3),
                     "diverged at step": state.diverged.get(kind)})
    status = (f"step **{state.steps:,}** of the generator updates asked for · **{state.steps_per_second:.0f}** steps/s"
              f"\n\nTraining with {gan.describe_settings({k: m.config for k, m in state.models.items()})}")
    return (*panels, loss_curves_figure({k: m.history for k, m in state.models.items()}), pd.DataFrame(rows), status)


@readable_errors
def live_training(dataset, steps, steps_per_refresh, n_critic, clip, gp_lambda, generator_loss, seed):
    """Train GAN, WGAN and WGAN-GP together from scratch, yielding the panels after every refresh.

    A refresh trains for at most gan.LIVE_TRAIN_SECONDS and comes at most every REFRESH_SECONDS:
    the browser redraws four charts per update, and faster updates queued up in it until it froze
    (a Pause click took 40 s to land in Chromium). The wait between updates also frees the core
    for the other students of the Space, and lets its server answer a Pause at once."""
    steps = whole(steps, "steps", 1, MAX_LIVE_STEPS)
    per_refresh = whole(steps_per_refresh, "steps per refresh", 1, 500)
    state = gan.SideBySide.create(_configs(dataset, n_critic, clip, gp_lambda, generator_loss, seed))
    while state.steps < steps and len(state.diverged) < len(state.models):
        started = time.monotonic()
        state.advance(min(per_refresh, steps - state.steps), seconds=gan.LIVE_TRAIN_SECONDS)
        yield _outputs(state)
        time.sleep(max(0.0, REFRESH_SECONDS - (time.monotonic() - started)))


@readable_errors
def theory(theta, sigma):
    return _theory(real(theta, "θ", -10, 10), real(sigma, "σ", 0.2, 3))


@lru_cache(maxsize=512)
def _theory(theta: float, sigma: float):
    """The answer for one slider position, cached: a class moves the same two sliders over the same
    steps, and building the two figures is most of a request's time under load."""
    game = gan.GaussianGame(theta, sigma)
    grads = game.generator_gradients()
    text = (f"JS = **{game.js_divergence():.4f}** nats (at most log 2 = 0.6931) · W₁ = **{game.wasserstein():.3f}** · "
            f"∂L/∂θ saturating **{grads['saturating']:.2e}**, non-saturating **{grads['non-saturating']:.2e}**")
    curves = gan.separation_curves(np.linspace(0, 10, 81), sigma)
    return text, theory_densities_figure(game), separation_figure(curves, abs(theta))


@lru_cache(maxsize=8)
def _checkpoint(name: str):
    return load_checkpoint(name, expected=gan.ImageGAN)


@readable_errors
def samples(kind: str, epoch: float, seed: float = 0):
    """Samples of one checkpoint at a training snapshot (the nearest saved epoch), its FID curve and histogram."""
    if kind not in IMAGE_GANS:
        raise gr.Error(f"Choose one of {', '.join(IMAGE_GANS)}.")
    try:
        checkpoint = _checkpoint(IMAGE_GANS[kind])
    except CheckpointError as exc:
        raise gr.Error(str(exc)) from None
    snaps = checkpoint.snapshots
    epochs = [int(p.stem.split("-")[1]) for p in snaps]
    epoch, seed = real(epoch, "epoch", 1, max(epochs)), whole(seed, "seed", *gan.LIVE_RANGES["seed"])
    chosen = snaps[int(np.argmin([abs(e - epoch) for e in epochs]))]
    model = gan.snapshot_model(checkpoint, chosen)
    grid = image_grid_figure(model.sample(64, seed=int(seed)), 8, f"{TITLES[kind]}, {chosen.stem}")
    curves = {}
    for k, name in IMAGE_GANS.items():
        try:
            curves[k] = _checkpoint(name).history
        except CheckpointError:
            pass
    return (grid, fid_curves_figure(curves, None, f"{CLASSIFIER}"),
            class_histogram_figure(checkpoint.history, [str(d) for d in range(10)], f"{TITLES[kind]}: classes per epoch"))


@readable_errors
def conditional_grid(seed: float = 0):
    seed = whole(seed, "seed", *gan.LIVE_RANGES["seed"])
    try:
        checkpoint = _checkpoint("cgan-digits")
    except CheckpointError as exc:
        raise gr.Error(str(exc)) from None
    return image_grid_figure(gan.class_grid(checkpoint.model, seed=int(seed)), 8,
                             "one row per class", row_labels=[str(d) for d in range(10)], height=620)


def gans_tab() -> None:
    gr.Markdown("GAN, WGAN and WGAN-GP on the same 2-D data, seed and network sizes, trained side by side.")
    with gr.Tab("Live 2-D training"):
        with gr.Row():
            dataset = gr.Dropdown(TOY_DISTRIBUTIONS, value="8gaussians", label="data")
            steps = gr.Number(600, precision=0, label="steps")
            per_refresh = gr.Number(100, precision=0, label="steps per refresh (at most; one update a second)")
            n_critic = gr.Number(5, precision=0, label="n_critic (WGANs)")
        with gr.Row():
            clip = gr.Number(0.01, label="clip c (WGAN)")
            gp_lambda = gr.Number(0.1, label="λ (WGAN-GP)")
            generator_loss = gr.Radio(["non-saturating", "saturating"], value="non-saturating", label="GAN generator loss")
            seed = gr.Number(0, precision=0, label="seed")
        with gr.Row():
            start = gr.Button("Train from scratch", variant="primary")
            stop = gr.Button("Pause")
        with gr.Row():
            panels = [gr.Plot(label=TITLES[k]) for k in gan.KINDS]
        status = gr.Markdown()
        losses = gr.Plot(label="losses")
        table = gr.Dataframe(headers=["model", "steps", "modes captured", "high-quality share", "diverged at step"],
                             label="mode coverage (Gaussian mixtures)")
        run = start.click(live_training, [dataset, steps, per_refresh, n_critic, clip, gp_lambda, generator_loss, seed],
                          [*panels, losses, table, status], api_name="gan_live",
                          concurrency_limit=1)   # trains for seconds: one at a time, so it holds one core at most
        stop.click(None, None, None, cancels=[run])
    with gr.Tab("Theory"):
        with gr.Row():
            theta = gr.Slider(-10, 10, 2, step=0.1, label="θ: shift of p_g")
            sigma = gr.Slider(0.2, 3, 1, step=0.1, label="σ of p_g")
        first_text, first_densities, first_separation = theory(2.0, 1.0)     # drawn before any slider moves
        summary = gr.Markdown(first_text)
        with gr.Row():
            densities, separation = gr.Plot(first_densities), gr.Plot(first_separation)
        gr.on([theta.change, sigma.change], theory, [theta, sigma], [summary, densities, separation],
              api_name="gan_theory", trigger_mode="always_last")
    with gr.Tab("Samples & FID"):
        with gr.Row():
            kind = gr.Radio(list(IMAGE_GANS), value="gan", label="checkpoint")
            epoch = gr.Slider(1, 60, 60, step=1, label="epoch (nearest snapshot)")
            sample_seed = gr.Number(0, precision=0, label="seed")
        show = gr.Button("Show", variant="primary")
        grid = gr.Plot()
        with gr.Row():
            fid, histogram = gr.Plot(), gr.Plot()
        show.click(samples, [kind, epoch, sample_seed], [grid, fid, histogram], api_name="gan_samples")
    with gr.Tab("Conditional GAN"):
        cgan_seed = gr.Number(0, precision=0, label="seed")
        draw = gr.Button("Draw", variant="primary")
        cgan_grid = gr.Plot()
        draw.click(conditional_grid, [cgan_seed], cgan_grid, api_name="gan_conditional")
