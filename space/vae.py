"""The Space's VAE tab: the same dgm_core.vae calls and figures as labs/vae.py."""
from __future__ import annotations

from functools import lru_cache

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from dgm_core import catalogue, vae
from dgm_core.catalogue import TEST_IMAGES, dataset_of
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.vae import kl_per_dim_figure, mig_figure, nll_figure, training_curves_figure
from dgm_core.labs import vae as vae_lab
from space.inputs import checkpoint_of, cleared, readable_errors, real, says_why, whole

MAX_SLIDERS = 10


def _checkpoint(name: str):
    return checkpoint_of(name, vae.ConvVAE)    # the Space's one checkpoint cache (space/inputs.py)


@lru_cache(maxsize=4)
def _test_set(dataset: str, image_size: int):
    return catalogue.test_images(dataset, image_size)


@lru_cache(maxsize=16)
def _report(name: str):
    return vae_lab.vae_report(_checkpoint(name))


def vae_names() -> list[str]:
    return list(catalogue.runs("vae"))


def _load(name: str):
    if name not in vae_names():
        raise gr.Error(f"Checkpoint: {str(name)[:40]!r} is not a shipped VAE; choose one of {', '.join(vae_names())}.")
    return _checkpoint(name)


def _big(images: torch.Tensor, scale: int = 6) -> np.ndarray:
    """(1, C, H, W) in [0, 1] -> an upscaled uint8 picture for gr.Image."""
    picture = (images[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    return picture[..., 0] if picture.shape[-1] == 1 else picture


def slider_dims(name: str) -> list[int]:
    """The latent dimension each slider moves, slider 0 first: the dimensions ordered by their KL,
    most informative first, as on the page (the shipped models have at most MAX_SLIDERS)."""
    return [int(d) for d in _report(name).dims_by_kl[:MAX_SLIDERS]]


def slider_label(name: str, dim: int) -> str:
    return f"z{dim} · KL {_report(name).kl_per_dim[dim]:.2f} nats"


@readable_errors
def decode(name: str, *values: float) -> np.ndarray:
    """Decode the latent point set by the sliders: slider i sets dimension slider_dims(name)[i]."""
    model = _load(name).model
    z = torch.zeros(1, model.latent_dim)
    for value, dim in zip(values, slider_dims(name)):
        z[0, dim] = real(value, f"the slider of z{dim}", -3, 3)
    with torch.no_grad():
        return _big(model.decode_mean(z))


@readable_errors
def sliders_for(name: str) -> list:
    """Relabel the sliders for a newly chosen checkpoint, in its KL order, all back at 0; sliders
    beyond its latent dimensions are hidden."""
    _load(name)
    dims = slider_dims(name)
    return [gr.update(label=slider_label(name, dims[i]), value=0, visible=True) if i < len(dims)
            else gr.update(value=0, visible=False) for i in range(MAX_SLIDERS)]


@readable_errors
def traversal(name: str, span: float = 3.0):
    checkpoint, latents = _load(name), _report(name)
    span = real(span, "range ±", 1, 4)
    values = torch.linspace(-span, span, 9)
    dims = latents.dims_by_kl
    grid = vae.traversal_images(checkpoint.model, torch.zeros(checkpoint.model.latent_dim), dims, values)
    return image_grid_figure(grid, 9, "each row moves one latent around z = 0", row_labels=[f"z{d}" for d in dims],
                             col_labels=[f"{v:+.1f}" for v in values], height=60 * len(dims) + 80)


@readable_errors
def interpolation(name: str, first: float, second: float, mode: str):
    checkpoint = _load(name)
    data = _test_set(dataset_of(checkpoint), checkpoint.model.image_size)
    limit = min(TEST_IMAGES, len(data)) - 1
    a, b = whole(first, "first test image", 0, limit), whole(second, "second test image", 0, limit)
    if mode not in ("linear", "spherical"):
        raise gr.Error("path: choose 'linear' or 'spherical'.")
    path = vae.interpolation_images(checkpoint.model, data[a][0], data[b][0], mode)
    strip = torch.cat([data[a][0][None], path, data[b][0][None]])
    return image_grid_figure(strip, len(strip), f"{mode}: A | μ(A), 10 points between, μ(B) | B",
                             col_labels=["A", "μ(A)"] + [""] * 10 + ["μ(B)", "B"], height=200)


@readable_errors
def beta_comparison(dataset: str):
    """Every shipped VAE on `dataset` in the table (one row per β and training seed); the figures show
    each β's seed-0 checkpoint; the spread over seeds is in the table's MIG and active-unit columns."""
    groups = vae_lab.vae_seed_groups(dataset) if isinstance(dataset, str) else {}
    if not groups:
        shipped = sorted({dataset_of(_checkpoint(n)) for n in vae_names()})
        raise gr.Error(f"dataset: no shipped VAE checkpoints for {str(dataset)[:40]!r}; choose one of "
                       f"{', '.join(shipped)}.")
    comparison = vae_lab.beta_comparison(dataset, _checkpoint, _report)      # the page's tab shows the same
    groups, names = comparison["groups"], comparison["first_seeds"]
    labels = {group[0]: f"β = {beta:g}" for beta, group in groups.items()}
    samples = torch.cat([_checkpoint(n).model.sample(8, torch.Generator().manual_seed(0)) for n in names])
    sample_fig = image_grid_figure(samples, 8, "samples, one row per β (seed 0)", row_labels=[labels[n] for n in names])
    kl_fig = kl_per_dim_figure({labels[n]: _report(n).kl_per_dim.tolist() for n in names})
    data = _test_set(dataset, _checkpoint(names[0]).model.image_size)
    if all(_report(n).mig is not None for n in names):
        mig_fig = mig_figure({labels[n]: _report(n).mig_per_factor for n in names}, data.factor_names)
    else:
        mig_fig = go.Figure().add_annotation(text=f"MIG needs the true generative factors:<br>only shapes has them, "
                                             f"not {dataset}.", showarrow=False, font=dict(size=14))
        mig_fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=300)
    curves = training_curves_figure({labels[n]: _checkpoint(n).history for n in names})
    bits, _ = vae_lab.bits_per_dim_basis(_checkpoint(names[0]).model, dataset)
    nll = nll_figure({labels[n]: _checkpoint(n).history["nll"]["curve"] for n in names if "nll" in _checkpoint(n).history},
                     bits=bits)
    images = next((_checkpoint(n).history["nll"]["images"] for n in names if "nll" in _checkpoint(n).history), None)
    if images:   # what the points (and their error bars, where the runs recorded them) are over
        bars = any(trace.error_y is not None and trace.error_y.array is not None for trace in nll.data)
        nll.update_layout(title=f"on the first {images} test images" +
                                ("; error bars: ± one standard error over them" if bars else
                                 "; no error bars: these runs did not record the spread over images"))
    summary = pd.DataFrame(comparison["summary"] or [{"β": "—", "MIG": "needs the true generative factors: only shapes has them"}])
    return (pd.DataFrame(comparison["checkpoints"]), summary, comparison["note"], sample_fig, kl_fig, mig_fig, curves,
            nll)


def dataset_of_checkpoint(name: str):
    """The β tab's dataset for the checkpoint chosen at the top (unchanged for a name that is not a shipped VAE)."""
    return dataset_of(_checkpoint(name)) if name in vae_names() else gr.skip()


def vae_tab() -> None:
    names = vae_names()
    if not names:
        gr.Markdown("No VAE checkpoints ship with this copy. Train one with `python -m training.run vae`.")
        return
    first = "vae-digits-beta1" if "vae-digits-beta1" in names else names[0]
    datasets = sorted({dataset_of(_checkpoint(n)) for n in names})
    gr.Markdown("A convolutional VAE (Kingma & Welling, 2014) and β-VAE (Higgins et al., 2017) trained on the "
                "built-in data. Move the sliders: the picture is decoded as they move.")
    with gr.Row():
        checkpoint = gr.Dropdown(names, value=first, label="Checkpoint")
    with gr.Tab("Latent sliders"):
        with gr.Row():
            with gr.Column(scale=3):
                gr.Markdown("Dimensions ordered by their KL (most informative first); inactive ones barely "
                            "change the image.")
                dims = slider_dims(first)
                sliders = [gr.Slider(-3, 3, 0, step=0.05, label=slider_label(first, dims[i]) if i < len(dims) else "",
                                     visible=i < len(dims)) for i in range(MAX_SLIDERS)]
            with gr.Column(scale=2):
                picture = gr.Image(decode(first), label="decoded E[x | z]", format="png", height=300)
                why_decoded = gr.Markdown()
        # A new checkpoint relabels the sliders (its KL order, all at 0), then decodes its z = 0.
        checkpoint.change(says_why(sliders_for, MAX_SLIDERS), [checkpoint], [*sliders, why_decoded],
                          api_name="vae_sliders", show_progress="hidden").then(
            says_why(decode, 1), [checkpoint, *sliders], [picture, why_decoded], api_visibility="private",
            show_progress="hidden")
        gr.on([s.change for s in sliders], says_why(decode, 1), [checkpoint, *sliders], [picture, why_decoded],
              api_name="vae_decode", trigger_mode="always_last", show_progress="hidden")
    with gr.Tab("Traversals"):
        span = gr.Slider(1, 4, 3, step=0.5, label="range ± (prior standard deviations)")
        traverse = gr.Button("Draw traversals", variant="primary")
        why_traversal = gr.Markdown()
        grid = gr.Plot()
        traverse.click(says_why(traversal, 1), [checkpoint, span], [grid, why_traversal], api_name="vae_traversal")
    with gr.Tab("Interpolation"):
        with gr.Row():
            a = gr.Number(0, precision=0, label="first test image")
            b = gr.Number(1, precision=0, label="second test image")
            mode = gr.Radio(["linear", "spherical"], value="linear", label="path")
        go = gr.Button("Interpolate", variant="primary")
        why_interpolation = gr.Markdown()
        strip = gr.Plot()
        go.click(says_why(interpolation, 1), [checkpoint, a, b, mode], [strip, why_interpolation],
                 api_name="vae_interpolate")
    with gr.Tab("β comparison and likelihood"):
        dataset = gr.Dropdown(datasets, value=datasets[0], label="dataset")
        compare = gr.Button("Compare β", variant="primary")
        why_beta = gr.Markdown()
        table = gr.Dataframe(headers=["checkpoint", "β", "seed", "test ELBO", "reconstruction", "KL", "active units",
                                      "MIG"], label="every checkpoint: its last epoch on the test split; MIG on shapes only")
        summary = gr.Dataframe(label="each β over its training seeds (MIG, active units, each factor's gap)")
        seeds_note = gr.Markdown()
        samples = gr.Plot(label="samples")
        with gr.Row():
            kl = gr.Plot(label="KL per dimension")
            mig = gr.Plot(label="MIG per factor")
        curves = gr.Plot(label="training curves")
        nll = gr.Plot(label="ELBO vs IWAE as k grows")
        compare.click(says_why(beta_comparison, 8), [dataset],
                      [table, summary, seeds_note, samples, kl, mig, curves, nll, why_beta],
                      api_name="vae_beta_comparison")
        dataset.change(cleared(9, 8, "The dataset is now **{choice}**: press **Compare β** to measure its checkpoints."),
                       dataset, [table, summary, seeds_note, samples, kl, mig, curves, nll, why_beta], queue=False)
        # The tab follows the checkpoint chosen at the top: its dataset is the one compared (a student who chose an
        # mnist-5k VAE was shown the digits' table).
        checkpoint.change(dataset_of_checkpoint, checkpoint, dataset, queue=False, api_visibility="private")
