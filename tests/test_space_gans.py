"""The Space's GAN tab as built (no server needed): what a student sees before touching anything."""
import json

import gradio as gr
import pytest

from dgm_core import gan
from dgm_core.labs import gans as gans_lab


@pytest.fixture(scope="module")
def components():
    from space.gans import gans_tab

    with gr.Blocks() as demo:
        gans_tab()
    return demo.config["components"]


def test_theory_plots_are_drawn_before_any_slider_moves(components):
    """They were blank until a slider moved: the plots had no initial value."""
    plots = [json.loads(c["props"]["value"]["plot"]) for c in components
             if c["type"] == "plot" and c["props"].get("value")]
    names = [{t.get("name") for t in plot["data"]} for plot in plots]
    assert any({"p_data", "p_g", "D*(x)"} <= n for n in names)
    assert any({"JS(p_data ‖ p_g)", "W₁(p_data, p_g)"} <= n for n in names)
    game = gan.GaussianGame(2.0, 1.0)
    text = next(c["props"]["value"] for c in components if c["type"] == "markdown"
                and "JS = " in (c["props"].get("value") or ""))
    assert f"JS = **{game.js_divergence():.4f}**" in text and f"W₁ = **{game.wasserstein():.3f}**" in text


LIVE = dict(dataset="8gaussians", steps=10, steps_per_refresh=5, n_critic=5, clip=0.01, gp_lambda=0.1,
            generator_loss="non-saturating", seed=0)


@pytest.mark.parametrize("field, value, message", [
    ("steps", None, "steps: the box is empty"),
    ("n_critic", None, r"n_critic \(WGANs\): the box is empty"),
    ("clip", None, r"clip c \(WGAN\): the box is empty"),
    ("seed", -1, "seed: enter a whole number from 0 to 10,000; got -1"),         # was a bare "Error"
    ("clip", 5, r"clip c \(WGAN\): enter a number from 0.001 to 1; got 5"),     # the page's range
    ("n_critic", 0, r"n_critic \(WGANs\): enter a whole number from 1 to 50"),
    ("gp_lambda", float("nan"), "is not a finite number"),
    ("steps_per_refresh", 2.5, "steps per refresh: enter a whole number"),
])
def test_bad_live_settings_get_a_message_that_names_the_field(field, value, message):
    from space.gans import live_training

    with pytest.raises(gr.Error, match=message):
        next(live_training(**{**LIVE, field: value}))


def test_the_live_stream_says_which_settings_train():
    from space.gans import live_training

    *_, status, _run = next(live_training(**{**LIVE, "clip": 0.02, "seed": 3}))
    configs = {k: gan.default_config(k, clip=0.02, seed=3, n_critic=1 if k == "gan" else 5) for k in gan.KINDS}
    assert f"Training with {gans_lab.describe_settings(configs)}" in status


def test_empty_seed_and_epoch_boxes_of_the_image_tabs_get_messages():
    from space.gans import conditional_grid, samples

    with pytest.raises(gr.Error, match="seed: the box is empty"):
        samples("gan", 60, None)
    with pytest.raises(gr.Error, match="epoch: the box is empty"):
        samples("gan", None, 0)
    with pytest.raises(gr.Error, match="seed: the box is empty"):
        conditional_grid(None)


def test_a_drawing_on_the_sketchpad_becomes_the_training_data():
    """What gr.Sketchpad(type="numpy") gives: an RGBA composite, transparent or white where nothing is drawn."""
    import numpy as np

    from space.live import DRAWING, resolve_data

    composite = np.zeros((200, 300, 4), dtype=np.uint8)           # transparent background
    composite[50, 40:260] = (0, 0, 0, 255)                          # one black stroke
    composite[150:152, 100:120] = (255, 255, 255, 255)              # white (background colour) is not ink
    data = resolve_data(DRAWING, None, {"background": None, "layers": [], "composite": composite})
    assert len(data.points) == 220 and np.ptp(data.points[:, 1]) == 0    # one horizontal line
    with pytest.raises(gr.Error, match="This data cannot be used: your drawing has 0 inked pixels"):
        resolve_data(DRAWING, None, {"background": None, "layers": [], "composite": np.zeros((20, 20, 4), np.uint8)})
    with pytest.raises(gr.Error, match="draw at least a few strokes"):
        resolve_data(DRAWING, None, None)


def test_the_matched_comparison_is_per_dataset_and_a_dataset_without_gans_is_refused():
    from dgm_core.catalogue import shipped
    from space.gans import comparison, samples

    table, note = comparison("mnist-5k")
    on_mnist = {i.name for i in shipped() if i.model_type == "image-gan" and i.dataset == "mnist-5k" and i.model != "cgan"}
    assert table["seeds"].sum() == len(on_mnist)
    assert "Trained on `mnist-5k`" in note and "`classifier-mnist-5k`" in note
    digits_table, digits_note = comparison("digits")
    assert "`classifier-digits`" in digits_note and "mnist-5k" not in digits_note
    for call in (lambda: comparison("imagenet"), lambda: samples("gan", 40, 0, "generator_updates", "imagenet")):
        with pytest.raises(gr.Error, match="dataset: choose one of digits, mnist-5k"):
            call()
