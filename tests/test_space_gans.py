"""The Space's GAN tab as built (no server needed): what a student sees before touching anything."""
import json

import gradio as gr
import pytest

from dgm_core import gan


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
    assert {"p_data", "p_g", "D*(x)"} <= names[0] and {"JS(p_data ‖ p_g)", "W₁(p_data, p_g)"} <= names[1]
    game = gan.GaussianGame(2.0, 1.0)
    text = next(c["props"]["value"] for c in components if c["type"] == "markdown"
                and "JS = " in (c["props"].get("value") or ""))
    assert f"JS = **{game.js_divergence():.4f}**" in text and f"W₁ = **{game.wasserstein():.3f}**" in text


def test_empty_number_fields_get_a_message_not_a_crash():
    from space.gans import live_training

    with pytest.raises(gr.Error, match="steps: enter a whole number"):
        next(live_training("8gaussians", None, 20, 5, 0.01, 0.1, "non-saturating", 0))
    with pytest.raises(gr.Error, match="settings cannot be used"):
        next(live_training("8gaussians", 10, 5, None, 0.01, 0.1, "non-saturating", 0))
