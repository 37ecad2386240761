"""The discrete-latent lab: widgets -> dgm_core.catalogue (VQ-VAE codes, clusters, maps) -> dgm_core.figures.

Every shipped VQ-VAE comes from dgm_core.catalogue, loaded with st.cache_resource; its codes, clusters
and maps are computed once per setting (st.cache_data)."""
import itertools
import math

import pandas as pd
import streamlit as st
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
from labs.checkpoints import cached as _checkpoint
from labs.checkpoints import download_button
from labs.checkpoints import load_or_say as _load
from labs.export import figure_config
from labs.inputs import number
from labs.lesson import lesson_mode
from labs.url_state import BIND, arrived, explain

st.title("🧩 VQ-VAE and its codes")
clustering.prepare_umap()     # its first map compiles for seconds: start now, in the background
link, link_message = arrived()
lesson_mode("vqvae")
runs = vqvae_lab.vqvae_runs()
if not runs:
    st.info("No VQ-VAE checkpoint is shipped here: train one with `python -m training.run vqvae`.")
    st.stop()

codes_tab, health_tab, cluster_tab, map_tab, pseudo_tab = st.tabs(
    ["Reconstructions and codes", "Codebook health", "Clustering the codes", "t-SNE / UMAP map", "True vs pseudo-labels"])
name = st.sidebar.selectbox("VQ-VAE checkpoint", list(runs), key="vq_checkpoint", bind=BIND,
                            help="Every tab reads this model's codes of the digits test set (train set for the "
                                 "pseudo-label classifier).")
checkpoint = _load(name)
if checkpoint is None:
    st.stop()
download_button(checkpoint)


@st.cache_data(show_spinner="Encoding the digits…", max_entries=4)
def _codes(name: str, split: str):
    return vqvae_lab.vqvae_codes(_checkpoint(name), split)


@st.cache_data(show_spinner="Clustering the codes with k-means…", max_entries=16)
def _clusters(name: str, representation: str, k: int, seed: int):
    return vqvae_lab.cluster_report(_codes(name, "test"), representation, k, seed)


@st.cache_data(show_spinner="Computing the map (t-SNE or UMAP; up to a minute the first time)…", max_entries=16)
def _map(name: str, representation: str, method: str, parameter: float, seed: int):
    return vqvae_lab.code_map(_codes(name, "test"), representation, method, parameter, seed)


@st.cache_data(show_spinner="Training both classifiers…", max_entries=8)
def _pseudo(name: str, representation: str, k: int, seed: int):
    return vqvae_lab.pseudo_label_report(_codes(name, "train"), _codes(name, "test"), representation, k, seed)


test = _codes(name, "test")
model = checkpoint.model
labels = [str(i) for i in range(10)]

# ------------------------------------------------------------------ reconstructions and codes
with codes_tab:
    st.markdown(f"A {model.image_size}x{model.image_size} digit becomes a {model.latent_size}x{model.latent_size} grid "
                f"of codes out of {model.num_codes}: at most {model.latent_size ** 2} × log₂{model.num_codes} = "
                f"{model.latent_size ** 2 * math.log2(model.num_codes):.0f} bits per image.")
    first = int(number(st, "first test image", 0, len(test["labels"]) - 8, 0, key="vq_first",
                                help=f"shows 8 test images from this one (0 to {len(test['labels']) - 8})"))
    shown = slice(first, first + 8)
    recon = model.decode_indices(test["indices"][shown]).detach()
    st.plotly_chart(image_grid_figure(torch.cat([test["images"][shown], recon]), 8,
                                      "originals (top) and their reconstructions from the codes (bottom)"),
                    key="vq_recon", config=figure_config())
    st.plotly_chart(code_maps_figure(test["indices"][shown], [f"label {test['labels'][i]}" for i in
                                                              range(first, first + 8)]), key="vq_code_maps", config=figure_config())
    st.caption("Each cell is the index of the code at that position: similar strokes share codes across images.")

# ------------------------------------------------------------------------ codebook health
with health_tab:
    comparison = vqvae_lab.codebook_comparison(_checkpoint, dataset_of(checkpoint))
    st.dataframe(pd.DataFrame(comparison["rows"]), hide_index=True)
    left, right = st.columns(2)
    left.plotly_chart(health_over_training_figure(comparison["curves"], "test_perplexity",
                                                  "test perplexity (codes)"), key="vq_perplexity", config=figure_config())
    right.plotly_chart(health_over_training_figure(comparison["curves"], "test_dead_codes",
                                                   "dead codes (test set)"), key="vq_dead", config=figure_config())
    counts = test["histogram"].sum(0)
    st.plotly_chart(usage_figure(counts, f"{name}: how often each code is used on the test set"), key="vq_usage", config=figure_config())
    st.caption("Perplexity exp(−Σ p log p) is the number of equally used codes with the same entropy; a dead code "
               "is one no test position chooses. A restart moves codes that went unused for a while onto encoder "
               "outputs of the current batch.")

# ------------------------------------------------------------------------------ clustering
with cluster_tab:
    c1, c2, c3 = st.columns(3)
    representation = c1.radio("cluster on", list(vqvae_lab.REPRESENTATIONS), key="vq_repr", bind=BIND,
                              format_func=vqvae_lab.REPRESENTATIONS.get)
    k = int(number(c2, "clusters k", 2, 30, 10, key="vq_k"))
    seed = int(number(c3, "k-means seed", 0, 10_000, 0, key="vq_seed"))
    report = _clusters(name, representation, k, seed)
    m1, m2 = st.columns(2)
    m1.metric("silhouette (−1 to 1; higher: tighter clusters)", f"{report['silhouette']:.3f}")
    m2.metric("matched accuracy (each cluster named by its best label)", f"{100 * report['matched accuracy']:.1f} %")
    left, right = st.columns(2)
    left.plotly_chart(confusion_figure(report["confusion"], labels), key="vq_confusion", config=figure_config())
    right.plotly_chart(distribution_figure(report["share"], report["sizes"], labels, report["matched"]), key="vq_distribution", config=figure_config())
    st.caption("Clusters are matched to labels by the Hungarian method (each label used once; with more clusters "
               "than labels the rest take their majority label). The labels were never shown to k-means.")

# --------------------------------------------------------------------------------- the map
def _wait_for_umap() -> None:
    """UMAP's first map in this server compiles its code (it started when the lab opened): the seconds so
    far, updated as they pass, rather than a spinner that says nothing."""
    clustering.prepare_umap()
    shown = st.empty()
    for waited in itertools.count():
        if clustering.umap_ready(timeout=0.5):
            break
        shown.info(f"Compiling UMAP for its first map in this server: {waited / 2:.0f} s so far. Only the first map "
                   "compiles; the next take under a second.")
    shown.empty()


with map_tab:
    c1, c2, c3, c4 = st.columns(4)
    method = c1.radio("method", ["tsne", "umap"], key="vq_method", bind=BIND, format_func={"tsne": "t-SNE", "umap": "UMAP"}.get)
    if method == "tsne":
        parameter = number(c2, "perplexity", 5, 100, 30, key="vq_perplexity_value")
    else:
        parameter = number(c2, "neighbours", 2, 100, 15, key="vq_neighbours")
    colour_by = c3.radio("colour by", ["label", "cluster"], key="vq_colour", bind=BIND)
    map_seed = int(number(c4, "map seed", 0, 10_000, 0, key="vq_map_seed"))
    map_repr = st.session_state.get("vq_repr", "latent")
    st.caption(f"Drawn from each digit's {vqvae_lab.REPRESENTATIONS[map_repr]}, as chosen in **Clustering the codes** "
               "(where k and the seed of the cluster colours are set too).")
    if method == "umap" and not clustering.umap_ready():
        _wait_for_umap()
    points = _map(name, map_repr, method, float(parameter), map_seed)
    groups = test["labels"] if colour_by == "label" else _clusters(name, map_repr, k, seed)["clusters"]
    st.plotly_chart(embedding_figure(points, groups, colour_by, test["images"],
                                     f"{'t-SNE' if method == 'tsne' else 'UMAP'} of the {len(points)} test digits' "
                                     f"{vqvae_lab.REPRESENTATIONS[map_repr]}; hover a point to see its digit"),
                    key="vq_map", config=figure_config())
    st.warning(clustering.MAP_CAVEATS)

# ---------------------------------------------------------------------- true vs pseudo-labels
with pseudo_tab:
    st.markdown(f"Two logistic regressions on the codes ({vqvae_lab.REPRESENTATIONS[representation]}): one trained "
                f"with the true labels, one with k-means pseudo-labels (k = {k}, each cluster named by its matched "
                "label on the training set). Both are scored on the test set's true labels.")
    study = _pseudo(name, representation, k, seed)
    st.dataframe(pd.DataFrame(vqvae_lab.pseudo_label_rows(study, k)), hide_index=True,
                 column_config={"test accuracy (%)": st.column_config.NumberColumn(format="%.1f")})
    st.caption(f"{100 * study['pseudo-labels right (train)']:.1f} % of the training pseudo-labels are the true label. "
               "The second classifier learns from those, so its test accuracy lands near that share, not near the "
               "first's.")

explain(link, link_message)
