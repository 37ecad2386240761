"""AppTest drives the VQ-VAE page: codes and reconstructions, codebook health, clustering (checked
against scikit-learn and an independent matching), the map, and the pseudo-label comparison."""
import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from dgm_core.labs import vqvae as vqvae_lab
from tests.conftest import by_key as _by_key
from tests.conftest import chart_spec as _chart
from tests.conftest import no_exception as _no_exception
from tests.conftest import open_lab

PAGE = "labs/vqvae.py"


@pytest.fixture(scope="module")
def page():
    return open_lab(PAGE, timeout=300)


def _metric(at, starts: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(starts))


def test_codes_and_reconstructions_of_the_chosen_images(page):
    at = page
    _by_key(at.text_input, "vq_first").set_value('5').run()
    _no_exception(at)
    maps = _chart(at, "vq_code_maps")
    assert len([t for t in maps["data"] if t["type"] == "heatmap"]) == 8
    titles = [a["text"] for a in maps["layout"]["annotations"]]
    assert all(t.startswith("label ") for t in titles)


def test_the_cluster_metrics_agree_with_scikit_learn(page):
    from dgm_core.checkpoints import load_checkpoint

    at = page
    _by_key(at.text_input, "vq_k").set_value('10').run()
    _no_exception(at)
    name = at.session_state["vq_checkpoint"]
    codes = vqvae_lab.vqvae_codes(load_checkpoint(name), "test")
    x = codes["latent"].numpy().astype(np.float64)
    clusters = KMeans(n_clusters=10, n_init=10, random_state=0).fit_predict(x)
    assert _metric(at, "silhouette") == f"{silhouette_score(x, clusters):.3f}"
    table = pd.crosstab(clusters, codes["labels"])
    from scipy.optimize import linear_sum_assignment
    rows, cols = linear_sum_assignment(-table.to_numpy())
    matched = table.to_numpy()[rows, cols].sum() / len(clusters)
    assert _metric(at, "matched accuracy") == f"{100 * matched:.1f} %"


def test_the_pseudo_label_table_has_both_classifiers(page):
    table = next(d.value for d in page.dataframe if "classifier trained on" in d.value.columns)
    assert list(table["classifier trained on"]) == ["the true labels", "k-means pseudo-labels (k = 10)"]
    assert table["test accuracy (%)"].between(0, 100).all()
    assert any("of the training pseudo-labels are the true label" in c.value for c in page.caption)


def test_the_codebook_table_lists_every_shipped_vqvae_with_restarts_and_without(page):
    table = next(d.value for d in page.dataframe if "dead-code restarts" in d.value.columns)
    assert set(table["dead-code restarts"]) == {"restarts", "no restarts"}
    assert (table["test perplexity"] <= table["codes"]).all()


def test_the_map_switches_to_umap_and_colours_by_cluster(page):
    at = page
    _by_key(at.radio, "vq_method").set_value("umap").run()
    _by_key(at.radio, "vq_colour").set_value("cluster").run()
    _no_exception(at)
    spec = _chart(at, "vq_map")
    assert spec["layout"]["title"]["text"].startswith("UMAP")
    from dgm_core.data import load_dataset

    test = load_dataset("digits", "test", 8)
    assert sum(len(t["text"]) for t in spec["data"]) == len(test.labels)
    # hovering shows the digit, drawn in shade characters, 8 rows
    assert all(len(text.split("<br>")) == 8 and set(text) - set(" ░▒▓█<br>") == set()
               for t in spec["data"] for text in t["text"])
    assert all(t["name"].startswith("cluster ") for t in spec["data"])
    assert any("carry little meaning" in w.value for w in at.warning)


def test_the_extremes_of_every_setting_answer_without_an_exception():
    """Streamlit's boxes refuse values outside their ranges; at each end of each range the page answers."""
    from dgm_core.data import load_dataset

    at = open_lab(PAGE, timeout=300)
    _by_key(at.radio, "vq_repr").set_value("histogram").run()
    for k in (2, 30):
        _by_key(at.text_input, "vq_k").set_value(str(k)).run()
        _no_exception(at)
        ticks = _chart(at, "vq_distribution")["data"][0]["x"]
        assert len(ticks) == k and all("→" in t for t in ticks)
    for perplexity in (5, 100):
        _by_key(at.text_input, "vq_perplexity_value").set_value(str(perplexity)).run()
        _no_exception(at)
    last = len(load_dataset("digits", "test", 8).labels) - 8
    _by_key(at.text_input, "vq_first").set_value(str(last)).run()
    _no_exception(at)
    assert len([t for t in _chart(at, "vq_code_maps")["data"] if t["type"] == "heatmap"]) == 8


def test_the_sidebar_offers_the_checkpoint_as_a_zip(page):
    buttons = [b for b in page.get("download_button") if b.proto.label.startswith("Download vqvae-digits")]
    assert len(buttons) == 1 and buttons[0].proto.label.endswith("(zip)")


def test_an_emptied_or_out_of_range_box_keeps_the_value_in_force_and_says_so():
    """k 17 → empty snapped back to the default 10 and recomputed; 40 was refused with only a red "!"."""
    from tests.conftest import by_key

    at = open_lab(PAGE)
    box = by_key(at.text_input, "vq_k")
    assert box.label == "clusters k (2–30)"
    box.set_value('17').run()
    measured = {m.label: m.value for m in at.metric}
    assert "matched accuracy (each cluster named by its best label)" in measured
    by_key(at.text_input, "vq_k").set_value("").run()
    assert any(c.value == "The box is empty: **17** is in force. Enter a whole number from 2 to 30." for c in at.caption)
    assert {m.label: m.value for m in at.metric} == measured          # still the clustering with k = 17
    by_key(at.text_input, "vq_k").set_value('40').run()
    assert any(c.value == "40 is outside 2–30: **17** is in force. Enter a whole number from 2 to 30." for c in at.caption)
    for typed, problem in (("1e9", "1e+09 is outside 2–30"), ("2.5", "2.5 is not a whole number"),
                           ("99999999999999999999", "1e+20 is outside 2–30"), ("ten", "'ten' is not a number")):
        by_key(at.text_input, "vq_k").set_value(typed).run()      # Streamlit's box read 1e9 as 1 and 2.5 as 2
        assert any(c.value.startswith(f"{problem}: **17** is in force.") for c in at.caption), typed
    assert at.session_state["_vq_k_in_force"] == 17
    assert at.session_state["_vq_k_in_force"] == 17
