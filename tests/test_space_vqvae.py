"""The Space's VQ-VAE tab as Gradio calls it: each handler's content, and bad boxes answered beside the
button with the figures kept."""
import gradio as gr
import pytest

from dgm_core.labs import vqvae as vqvae_lab
from tests.conftest import plotly_json as _plotly_json


def plotly_json(figure) -> dict:
    return _plotly_json(figure.to_json())


def _name():
    return next(iter(vqvae_lab.vqvae_runs()))


def test_reconstructions_and_code_maps():
    from space.vqvae import reconstructions

    grid, maps, note = reconstructions(_name(), 3)
    assert "reconstructions" in plotly_json(grid)["layout"]["title"]["text"]
    assert len([t for t in plotly_json(maps)["data"] if t["type"] == "heatmap"]) == 8
    assert "codes out of" in note


def test_the_clustering_matches_the_page_call():
    from space.vqvae import cluster_codes

    summary, confusion, distribution = cluster_codes(_name(), "histogram", 6, 1)
    from dgm_core.checkpoints import load_checkpoint

    report = vqvae_lab.cluster_report(vqvae_lab.vqvae_codes(load_checkpoint(_name())), "histogram", 6, 1)
    assert f"silhouette {report['silhouette']:.3f}" in summary
    assert f"matched accuracy {100 * report['matched accuracy']:.1f} %" in summary
    z = plotly_json(confusion)["data"][0]["z"]
    assert sum(int(v) for row in z for v in row) == len(report["clusters"])
    assert len(plotly_json(distribution)["data"]) == 10


@pytest.mark.parametrize("call, message", [
    (lambda f: f.cluster_codes(_name(), "latent", 1, 0), "clusters k: enter a whole number from 2 to 30; got 1"),
    (lambda f: f.cluster_codes(_name(), "latent", None, 0), "clusters k: the box is empty"),
    (lambda f: f.cluster_codes(_name(), "pixels", 5, 0), "cluster on: choose one of latent, histogram"),
    (lambda f: f.cluster_codes("nope", "latent", 5, 0), "checkpoint: choose one of"),
])
def test_bad_cluster_settings_keep_the_figures_and_say_what_is_wrong(call, message):
    import space.vqvae as tab

    summary, confusion, distribution = call(tab)
    assert confusion == distribution == gr.skip()
    assert summary.startswith("**Not run:** ") and message in summary


def test_the_map_refuses_a_bad_perplexity_and_draws_a_good_one():
    from space.vqvae import code_map

    figure, message = code_map(_name(), "latent", "t-SNE", 1, "label", 10, 0, 0)
    assert figure == gr.skip() and "perplexity: enter a number from 5 to 100; got 1" in message
    figure, caveat = code_map(_name(), "latent", "t-SNE", 20, "label", 10, 0, 0)
    spec = plotly_json(figure)
    assert spec["layout"]["title"]["text"].startswith("t-SNE") and "carry little meaning" in caveat
    assert {t["name"] for t in spec["data"]} == {f"label {i}" for i in range(10)}


def test_pseudo_labels_and_codebook_health():
    from space.vqvae import codebook_health, pseudo_labels

    table, note = pseudo_labels(_name(), "latent", 10, 0)
    assert list(table["classifier trained on"]) == ["the true labels", "k-means pseudo-labels (k = 10)"]
    assert "of the training pseudo-labels are the true label" in note
    rows, perplexity, dead, usage = codebook_health(_name())
    assert set(rows["dead-code restarts"]) == {"restarts", "no restarts"}
    assert len(plotly_json(perplexity)["data"]) == len(rows)


def test_changing_the_checkpoint_redraws_the_quick_tabs_and_clears_the_slow_ones(space_demo):
    from space.vqvae import stale

    demo = space_demo
    dropdown = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "VQ-VAE checkpoint")
    on_change = [d for d in demo.config["dependencies"]
                 if any(t[0] == dropdown._id and t[1] == "change" for t in d["targets"])]
    assert len(on_change) == 4
    figure, note, table, explanation = stale("vqvae-digits-ema")
    assert figure is None and table is None and "vqvae-digits-ema" in note and "Draw the map" in note
