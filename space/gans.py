"""The Space's GAN tab: the same dgm_core.gan calls and figures as labs/gans.py."""
from __future__ import annotations

from functools import lru_cache

import gradio as gr
import numpy as np
import pandas as pd

from dgm_core import catalogue, gan
from dgm_core.checkpoints import CheckpointError
from dgm_core.features import CLASSIFIER
from dgm_core.figures.gan import (
    FID_AXES,
    TITLES,
    class_histogram_figure,
    fid_curves_figure,
    loss_curves_figure,
    separation_figure,
    theory_densities_figure,
)
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.style import MODEL_COLOURS
from dgm_core.figures.toy2d import live_panel_figure
from dgm_core.labs import gans as gans_lab
from space import live
from space.inputs import checkpoint_of, cleared, keeps_figures, readable_errors, real, says_why, whole


def _configs(data, n_critic, clip, gp_lambda, generator_loss, seed) -> dict[str, gan.ToyGANConfig]:
    """The three models' settings, each box checked against the page's range (gans_lab.LIVE_RANGES)."""
    if generator_loss not in ("non-saturating", "saturating"):
        raise gr.Error("GAN generator loss: choose 'non-saturating' or 'saturating'.")
    r = gans_lab.LIVE_RANGES
    settings = dict(dataset=data, clip=real(clip, "clip c (WGAN)", *r["clip"]),
                    gp_lambda=real(gp_lambda, "λ (WGAN-GP)", *r["gp_lambda"]), generator_loss=generator_loss,
                    seed=whole(seed, "seed", *r["seed"]))
    n_critic = whole(n_critic, "n_critic (WGANs)", *r["n_critic"])
    return {kind: gan.default_config(kind, n_critic=1 if kind == "gan" else n_critic, **settings) for kind in gan.KINDS}


def _draw(snapshot, until: int):
    """The tab's outputs for one dgm_core.live.LiveSnapshot: three panels, the losses, the coverage table, the status."""
    panels = [live_panel_figure(view, snapshot.real, MODEL_COLOURS[kind], TITLES[kind])
              for kind, view in snapshot.views.items()]
    rows = []
    for kind, view in snapshot.views.items():
        cover = snapshot.metrics[kind][-1] if snapshot.metrics[kind] else {}
        rows.append({"model": TITLES[kind], "steps": view.steps, "modes captured": cover.get("captured"),
                     f"within {gan.LOOSE_RADIUS:g}": cover.get("captured_loose"),
                     "high-quality share": None if not cover else round(cover["high_quality"], 3),
                     "diverged at step": snapshot.diverged.get(kind)})
    return (*panels, loss_curves_figure(snapshot.histories), pd.DataFrame(rows), live.status(snapshot, until))


def _run(data, configs) -> live.SpaceRun:
    return live.SpaceRun(gan.side_by_side(configs), gans_lab.describe_settings(configs) + live.data_caption(data), _draw)


@readable_errors
def live_training(dataset, steps, steps_per_refresh, n_critic, clip, gp_lambda, generator_loss, seed,
                  points_file=None, drawing=None, request: gr.Request = None):
    """Train GAN, WGAN and WGAN-GP together from scratch on the chosen data (a toy, the student's
    CSV file or drawing), yielding the panels after every refresh (space/live.py's stream)."""
    def build():
        data = live.resolve_data(dataset, points_file, drawing)
        return _run(data, _configs(data, n_critic, clip, gp_lambda, generator_loss, seed))

    yield from live.start(build, steps, steps_per_refresh, request)


LIVE_DEFAULTS = dict(dataset="8gaussians", steps=600, steps_per_refresh=100)


def _first_picture():
    """What the live tab shows before any click: the three models at step 0 with the default settings."""
    data = LIVE_DEFAULTS["dataset"]
    run = _run(data, {kind: gan.default_config(kind, dataset=data) for kind in gan.KINDS})
    return _draw(run.session.snapshot(settings=run.settings), LIVE_DEFAULTS["steps"])


@readable_errors
def theory(theta, sigma):
    return _theory(real(theta, "θ: shift of p_g", -10, 10), real(sigma, "σ of p_g", 0.2, 3))


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


#: The epoch slider's end: the WGANs' last epoch (300); a GAN's nearest snapshot is its last (60).
EPOCH_SLIDER_MAX = 300


def _checkpoint(name: str):
    return checkpoint_of(name, gan.ImageGAN)   # the Space's one checkpoint cache (space/inputs.py)


@lru_cache(maxsize=2)
def _judge_with_floor(dataset: str = "digits"):
    return catalogue.judge_with_floor(dataset, catalogue.judge_of(dataset))


def _dataset(dataset, conditional: bool = False) -> str:
    choices = gans_lab.image_gan_datasets(conditional)
    if dataset not in choices:
        raise gr.Error(f"dataset: choose one of {', '.join(choices)}.")
    return dataset


def _runs(dataset: str = "digits") -> dict[str, list]:
    return gans_lab.load_image_gan_runs(_checkpoint, dataset)[0]


@readable_errors
def samples(kind: str, epoch: float, seed: float = 0, axis: str = "generator_updates", dataset: str = "digits"):
    """Samples of one checkpoint (seed 0) at a training snapshot (the nearest saved epoch), the FID
    curves of every model and seed with the real-vs-real floor, and the class histogram."""
    dataset = _dataset(dataset)
    runs = _runs(dataset)
    if kind not in runs:
        raise gr.Error(f"checkpoint: choose one of {', '.join(runs) or 'the shipped GANs (none are here)'}.")
    if axis not in FID_AXES:
        raise gr.Error(f"FID against: choose one of {', '.join(FID_AXES)}.")
    checkpoint = runs[kind][0]
    snaps = checkpoint.snapshots
    epochs = [int(p.stem.split("-")[1]) for p in snaps]
    epoch, seed = real(epoch, "epoch", 1, EPOCH_SLIDER_MAX), whole(seed, "seed", *gans_lab.LIVE_RANGES["seed"])
    chosen = snaps[int(np.argmin([abs(e - epoch) for e in epochs]))]
    updates = next((e.get("generator_updates") for e in checkpoint.history["epochs"]
                    if e["epoch"] == int(chosen.stem.split("-")[1])), None)
    model = gan.snapshot_model(checkpoint, chosen)
    grid = image_grid_figure(model.sample(64, seed=int(seed)), 8,
                             f"{TITLES[kind]}, {chosen.stem}" + (f" · {updates:,} generator updates" if updates else ""))
    _, floor, _ = _judge_with_floor(dataset)
    fid = fid_curves_figure({k: [c.history for c in cs] for k, cs in runs.items()}, floor, "classifier features", axis)
    return (grid, fid, class_histogram_figure(checkpoint.history, [str(d) for d in range(10)],
                                              f"{TITLES[kind]}: classes over training"))


@readable_errors
def comparison(dataset: str = "digits"):
    """The matched comparison table (dgm_core.gans_lab.matched_comparison) and the live-feature count."""
    dataset = _dataset(dataset)
    runs = _runs(dataset)
    rows = gans_lab.matched_comparison(runs)
    _, floor, (alive, features) = _judge_with_floor(dataset)
    table = pd.DataFrame(gans_lab.comparison_table(rows))
    note = (f"Trained on `{dataset}`. Every model trained to the same number of generator updates, with "
            f"{rows[0]['seeds']} seeds each; real vs real (train vs test) {floor:.1f}. The Fréchet distance uses the "
            f"{CLASSIFIER} (`{catalogue.judge_of(dataset)}`): {alive} of its {features} features vary on the test "
            f"set, so the distance measures those {alive} dimensions. {gans_lab.comparison_note(rows, dataset)}"
            ) if rows else f"No GAN checkpoints on {dataset} are shipped here."
    return table, note


@readable_errors
def conditional_grid(seed: float = 0, dataset: str = "digits"):
    seed = whole(seed, "seed", *gans_lab.LIVE_RANGES["seed"])
    try:
        checkpoint = _checkpoint(gans_lab.conditional_gan(_dataset(dataset, conditional=True)))
    except CheckpointError as exc:
        raise gr.Error(str(exc)) from None
    return (image_grid_figure(gan.class_grid(checkpoint.model, seed=int(seed)), 8,
                              "one row per class", row_labels=[str(d) for d in range(10)], height=620),
            gans_lab.conditional_caption(checkpoint))


def gans_tab() -> None:
    gr.Markdown("GAN, WGAN and WGAN-GP on the same 2-D data, seed and network sizes, trained side by side.")
    with gr.Tab("Live 2-D training"):
        with gr.Row():
            with gr.Column(scale=2):
                dataset, points_file, drawing = live.data_inputs(LIVE_DEFAULTS["dataset"])
            steps, per_refresh = live.step_boxes(LIVE_DEFAULTS["steps"], LIVE_DEFAULTS["steps_per_refresh"])
            n_critic = gr.Number(5, precision=0, label="n_critic (WGANs, {}–{})".format(*gans_lab.LIVE_RANGES["n_critic"]))
        with gr.Row():
            clip = gr.Number(gans_lab.DEFAULT_CLIP, label="clip c (WGAN, {:g}–{:g})".format(*gans_lab.LIVE_RANGES["clip"]),
                             info=gans_lab.CLIP_LESSON)
            gp_lambda = gr.Number(0.1, label="λ (WGAN-GP, {:g}–{:g})".format(*gans_lab.LIVE_RANGES["gp_lambda"]))
            generator_loss = gr.Radio(["non-saturating", "saturating"], value="non-saturating", label="GAN generator loss")
            seed = gr.Number(0, precision=0, label="seed (0–10,000)")
        gr.Markdown("**Train from scratch** starts new models from step 0 with the settings shown; **Pause** stops "
                    "them, **Resume** goes on to 'steps', **Step** trains one refresh's worth.")
        controls = live.buttons("Train from scratch")
        first = _first_picture()
        # the status line (the step, the rate, and what is wrong with a box) right under the buttons, where a
        # message is seen without scrolling past the panels
        status = gr.Markdown(first[-1])
        with gr.Row():
            panels = [gr.Plot(picture, label=TITLES[k]) for k, picture in zip(gan.KINDS, first)]
        losses = gr.Plot(first[3], label="losses")
        table = gr.Dataframe(first[4], label="mode coverage (Gaussian mixtures): within 3σ of a mode, and within "
                                             f"{gan.LOOSE_RADIUS:g}")
        live.wire("gan", controls, live_training, [dataset, steps, per_refresh, n_critic, clip, gp_lambda,
                                                    generator_loss, seed, points_file, drawing],
                  steps, per_refresh, [*panels, losses, table, status], status_at=5)
    with gr.Tab("Theory"):
        with gr.Row():
            theta = gr.Slider(-10, 10, 2, step=0.1, label="θ: shift of p_g")
            sigma = gr.Slider(0.2, 3, 1, step=0.1, label="σ of p_g")
        first_text, first_densities, first_separation = theory(2.0, 1.0)     # drawn before any slider moves
        summary = gr.Markdown(first_text)
        with gr.Row():
            densities, separation = gr.Plot(first_densities), gr.Plot(first_separation)
        gr.on([theta.change, sigma.change], keeps_figures(outputs=3, message_at=0)(theory), [theta, sigma],
              [summary, densities, separation],
              api_name="gan_theory", trigger_mode="always_last")
    with gr.Tab("Samples & FID"):
        gr.Markdown("Every model was trained to the **same number of generator updates** (the WGANs update their "
                    "generator once per 5 critic updates, so they ran 5 times the epochs), with more than one seed.")
        datasets = gans_lab.image_gan_datasets()
        gan_dataset = gr.Radio(datasets, value=datasets[0], label="dataset", visible=len(datasets) > 1)
        first_table, first_note = comparison(datasets[0])
        table = gr.Dataframe(first_table, label="at matched generator updates")
        table_note = gr.Markdown(first_note)
        gan_dataset.change(comparison, gan_dataset, [table, table_note], api_name="gan_comparison")
        with gr.Row():
            kinds = list(gans_lab.image_gan_runs()) or ["gan"]
            kind = gr.Radio(kinds, value=kinds[0], label="checkpoint")
            epoch = gr.Slider(1, EPOCH_SLIDER_MAX, EPOCH_SLIDER_MAX, step=1,
                              label="epoch (the nearest saved snapshot; the grid's title names it)")
            sample_seed = gr.Number(0, precision=0, label="seed")
            axis = gr.Radio([(title, key) for key, title in FID_AXES.items()], value="generator_updates",
                            label="FID against")
        show = gr.Button("Show", variant="primary")
        why_samples = gr.Markdown()
        grid = gr.Plot()
        with gr.Row():
            fid, histogram = gr.Plot(), gr.Plot()
        show.click(says_why(samples, 3), [kind, epoch, sample_seed, axis, gan_dataset], [grid, fid, histogram, why_samples],
                   api_name="gan_samples")
        gan_dataset.change(cleared(4, 3, "The dataset is now **{choice}**: press **Show** to draw its samples and curves."),
                           gan_dataset, [grid, fid, histogram, why_samples], queue=False)
    with gr.Tab("Conditional GAN"):
        cgan_seed = gr.Number(0, precision=0, label="seed")
        cgan_datasets = gans_lab.image_gan_datasets(conditional=True)
        cgan_dataset = gr.Radio(cgan_datasets, value=cgan_datasets[0], label="dataset", visible=len(cgan_datasets) > 1)
        draw = gr.Button("Draw", variant="primary")
        why_cgan = gr.Markdown()
        cgan_grid = gr.Plot()
        cgan_caption = gr.Markdown()
        draw.click(says_why(conditional_grid, 2), [cgan_seed, cgan_dataset], [cgan_grid, cgan_caption, why_cgan],
                   api_name="gan_conditional")
        cgan_dataset.change(cleared(3, 2, "The dataset is now **{choice}**: press **Draw** to draw its conditional GAN."),
                            cgan_dataset, [cgan_grid, cgan_caption, why_cgan], queue=False)
