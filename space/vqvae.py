"""The Space's discrete-latent tab: the same dgm_core.catalogue calls and figures as labs/vqvae.py."""
from __future__ import annotations

from functools import lru_cache

import gradio as gr
import pandas as pd
import torch

from dgm_core import clustering
from dgm_core.catalogue import dataset_of
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.vqvae import (
    code_maps_figure,
    confusion_figure,
    distribution_figure,
    embedding_figure,
    health_over_training_figure,
    usage_figure,
)
from dgm_core.labs import vqvae as vqvae_lab
from space.inputs import keeps_figures, readable_errors, real, says_why, whole
from space.inputs import loaded as _loaded

LABELS = [str(i) for i in range(10)]


def _runs() -> list[str]:
    return list(vqvae_lab.vqvae_runs())


def _name(name) -> str:
    if name not in vqvae_lab.vqvae_runs():
        raise gr.Error(f"VQ-VAE checkpoint: choose one of {', '.join(_runs())}.")
    return name


@lru_cache(maxsize=4)
def _codes(name: str, split: str):
    return vqvae_lab.vqvae_codes(_loaded(name), split)


@lru_cache(maxsize=16)
def _clusters(name: str, representation: str, k: int, seed: int):
    return vqvae_lab.cluster_report(_codes(name, "test"), representation, k, seed)


@lru_cache(maxsize=16)
def _map(name: str, representation: str, method: str, parameter: float, seed: int):
    return vqvae_lab.code_map(_codes(name, "test"), representation, method, parameter, seed)


@lru_cache(maxsize=8)
def _pseudo(name: str, representation: str, k: int, seed: int):
    return vqvae_lab.pseudo_label_report(_codes(name, "train"), _codes(name, "test"), representation, k, seed)


def _representation(value) -> str:
    if value not in vqvae_lab.REPRESENTATIONS:
        raise gr.Error(f"cluster on: choose one of {', '.join(vqvae_lab.REPRESENTATIONS)}.")
    return value


def _clustering(name, representation, k, seed) -> tuple[str, str, int, int]:
    """The clustering tab's boxes, checked: checkpoint, representation, k and k-means seed."""
    return (_name(name), _representation(representation), whole(k, "clusters k", 2, 30),
            whole(seed, "k-means seed", 0, 10_000))


@keeps_figures(outputs=3, message_at=2)
@readable_errors
def reconstructions(name, first):
    name = _name(name)
    test = _codes(name, "test")
    first = whole(first, "first test image", 0, len(test["labels"]) - 8)
    shown = slice(first, first + 8)
    model = _loaded(name).model
    with torch.no_grad():
        recon = model.decode_indices(test["indices"][shown])
    grid = image_grid_figure(torch.cat([test["images"][shown], recon]), 8,
                             "originals (top) and their reconstructions from the codes (bottom)")
    maps = code_maps_figure(test["indices"][shown], [f"label {test['labels'][i]}" for i in range(first, first + 8)])
    return grid, maps, (f"{model.latent_size}x{model.latent_size} codes out of {model.num_codes} per digit; each cell "
                        "of the lower figure is the index of the code at that position.")


@readable_errors
def codebook_health(name):
    name = _name(name)
    comparison = vqvae_lab.codebook_comparison(_loaded, dataset_of(_loaded(name)))
    counts = _codes(name, "test")["histogram"].sum(0)
    return (pd.DataFrame(comparison["rows"]),
            health_over_training_figure(comparison["curves"], "test_perplexity", "test perplexity (codes)"),
            health_over_training_figure(comparison["curves"], "test_dead_codes", "dead codes (test set)"),
            usage_figure(counts, f"{name}: how often each code is used on the test set"))


@keeps_figures(outputs=3, message_at=0)
@readable_errors
def cluster_codes(name, representation, k, seed):
    name, representation, k, seed = _clustering(name, representation, k, seed)
    report = _clusters(name, representation, k, seed)
    summary = (f"**silhouette {report['silhouette']:.3f}** (−1 to 1; higher: tighter clusters) · **matched accuracy "
               f"{100 * report['matched accuracy']:.1f} %** (each cluster named by its best label, Hungarian method; "
               "k-means never saw the labels)")
    return summary, confusion_figure(report["confusion"], LABELS), distribution_figure(report["share"], report["sizes"], LABELS,
                                                                                     report["matched"])


@keeps_figures(outputs=2, message_at=1)
@readable_errors
def code_map(name, representation, method, parameter, colour_by, k, seed, map_seed):
    name, representation, k, seed = _clustering(name, representation, k, seed)
    if method not in ("t-SNE", "UMAP"):
        raise gr.Error("method: choose t-SNE or UMAP.")
    if colour_by not in ("label", "cluster"):
        raise gr.Error("colour by: choose label or cluster.")
    parameter = (real(parameter, "perplexity", 5, 100) if method == "t-SNE" else whole(parameter, "neighbours", 2, 100))
    map_seed = whole(map_seed, "map seed", 0, 10_000)
    test = _codes(name, "test")
    points = _map(name, representation, "tsne" if method == "t-SNE" else "umap", float(parameter), map_seed)
    groups = test["labels"] if colour_by == "label" else _clusters(name, representation, k, seed)["clusters"]
    figure = embedding_figure(points, groups, colour_by, test["images"],
                              f"{method} of the {len(points)} test digits' {vqvae_lab.REPRESENTATIONS[representation]}; "
                              "hover a point to see its digit")
    return figure, clustering.MAP_CAVEATS


@keeps_figures(outputs=2, message_at=1)
@readable_errors
def pseudo_labels(name, representation, k, seed):
    name, representation, k, seed = _clustering(name, representation, k, seed)
    study = _pseudo(name, representation, k, seed)
    return (pd.DataFrame(vqvae_lab.pseudo_label_rows(study, k)),
            f"Both are scored on the test set's true labels, on each digit's {vqvae_lab.REPRESENTATIONS[representation]} "
            f"(the clustering tab's choice). {100 * study['pseudo-labels right (train)']:.1f} % of the training "
            "pseudo-labels are the true label: the second classifier learns from those, so its accuracy lands near "
            "that share.")


def stale(name):
    """After the checkpoint changes: the map and the classifiers (seconds each) are cleared and say how
    to redraw them; the quick tabs redraw themselves (wired in vqvae_tab)."""
    return (None, f"The checkpoint is now **{name}**: press **Draw the map** to draw its codes.",
            None, f"The checkpoint is now **{name}**: press **Train both classifiers** for its codes.")


def vqvae_tab() -> None:
    clustering.prepare_umap()     # UMAP's first map compiles for seconds: start it while the Space starts
    runs = _runs()
    if not runs:
        gr.Markdown("No VQ-VAE checkpoint is shipped here: train one with `python -m training.run vqvae`.")
        return
    gr.Markdown("A VQ-VAE turns each digit into a small grid of discrete codes; this tab looks at the codebook and "
                "at what clustering those codes finds. Changing the checkpoint redraws the first three sub-tabs.")
    name = gr.Dropdown(runs, value=runs[0], label="VQ-VAE checkpoint")
    # The figures carry their own titles: Gradio's label tag would cover them.
    with gr.Tab("Reconstructions and codes"):
        first = gr.Number(0, precision=0, label="first test image (8 are shown)")
        show = gr.Button("Show reconstructions and codes", variant="primary")
        note = gr.Markdown()
        grid, maps = gr.Plot(show_label=False), gr.Plot(show_label=False)
        show.click(reconstructions, [name, first], [grid, maps, note], api_name="vq_reconstructions")
    with gr.Tab("Codebook health"):
        health = gr.Button("Compare the codebooks", variant="primary")
        why_health = gr.Markdown()
        table = gr.Dataframe(label="every shipped VQ-VAE at the end of training")
        with gr.Row():
            perplexity, dead = gr.Plot(show_label=False), gr.Plot(show_label=False)
        usage = gr.Plot(show_label=False)
        health.click(says_why(codebook_health, 4), name, [table, perplexity, dead, usage, why_health],
                     api_name="vq_health")
    with gr.Tab("Clustering the codes"):
        with gr.Row():
            representation = gr.Radio(list(vqvae_lab.REPRESENTATIONS), value="latent", label="cluster on "
                                      "(latent: quantised latent flattened; histogram: code histogram)")
            k = gr.Number(10, precision=0, label="clusters k (2–30)")
            seed = gr.Number(0, precision=0, label="k-means seed")
        cluster = gr.Button("Cluster the codes", variant="primary")
        summary = gr.Markdown()
        with gr.Row():
            confusion, distribution = gr.Plot(show_label=False), gr.Plot(show_label=False)
        cluster.click(cluster_codes, [name, representation, k, seed], [summary, confusion, distribution],
                      api_name="vq_cluster")
    with gr.Tab("t-SNE / UMAP map"):
        gr.Markdown("Drawn from the codes chosen under **cluster on** in the clustering tab; cluster colours use its "
                    "k and seed.")
        with gr.Row():
            method = gr.Radio(["t-SNE", "UMAP"], value="t-SNE", label="method")
            parameter = gr.Number(30, label="perplexity (t-SNE, 5–100) or neighbours (UMAP, 2–100)")
            colour_by = gr.Radio(["label", "cluster"], value="label", label="colour by")
            map_seed = gr.Number(0, precision=0, label="map seed")
        draw = gr.Button("Draw the map", variant="primary")
        caveat = gr.Markdown()
        figure = gr.Plot(show_label=False)
        draw.click(code_map, [name, representation, method, parameter, colour_by, k, seed, map_seed], [figure, caveat],
                   api_name="vq_map")
    with gr.Tab("True vs pseudo-labels"):
        compare = gr.Button("Train both classifiers", variant="primary")
        study, explanation = gr.Dataframe(label="test accuracy of each classifier"), gr.Markdown()
        compare.click(pseudo_labels, [name, representation, k, seed], [study, explanation], api_name="vq_pseudo")
    # A new checkpoint: redraw what is quick, clear what takes seconds (and say so), so no tab shows the
    # previous checkpoint's results under the new name.
    name.change(stale, name, [figure, caveat, study, explanation], queue=False)
    name.change(reconstructions, [name, first], [grid, maps, note])
    name.change(says_why(codebook_health, 4), name, [table, perplexity, dead, usage, why_health])
    name.change(cluster_codes, [name, representation, k, seed], [summary, confusion, distribution])
