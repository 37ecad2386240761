"""The Space's energy-based tab as Gradio calls it: bad boxes get messages naming the field, and the
handlers return what the tab shows."""
import re

import gradio as gr
import pytest

from dgm_core.labs import energy as energy_lab
from tests.conftest import plotly_json as _plotly_json


def plotly_json(figure) -> dict:
    return _plotly_json(figure.to_json())


LIVE = dict(dataset="8gaussians", steps=6, steps_per_refresh=3, init="buffer", sgld_steps=3, step_size=0.01,
            sigma_start=0.1, sigma_end=0.1, hidden=16, lr=1e-3, alpha=0.1, seed=0)


@pytest.mark.parametrize("field, value, message", [
    ("sgld_steps", None, "SGLD steps: the box is empty"),
    ("sgld_steps", 500, "SGLD steps: enter a whole number from 1 to 200; got 500"),
    ("step_size", 5, r"step size ε: enter a number from 0.0001 to 1"),
    ("sigma_start", 0.0, "both ends above 0"),
    ("init", "elsewhere", "chains start from: choose one of buffer, noise"),
    ("alpha", float("nan"), "is not a finite number"),
])
def test_bad_live_settings_get_a_message_that_names_the_field(field, value, message):
    """Through the button (space/live.py's wire): the message goes beside the button and the figures of
    the last run stay (gr.skip())."""
    from space.energy import live_training
    from space.live import keeps_figures

    panel, energies, status, run = next(keeps_figures(outputs=4, message_at=2)(live_training)(**{**LIVE, field: value}))
    assert panel == energies == run == gr.skip()
    assert re.search(message, status) and status.startswith("**Not run:** ") and "'" not in status[:20]


def test_the_live_stream_trains_and_says_which_settings_train():
    from space.energy import live_training

    *_, (panel, energies, status, _run) = list(live_training(**{**LIVE, "init": "noise", "sigma_end": 0.01}))
    assert "step 6" in plotly_json(panel)["layout"]["title"]["text"]
    assert {t["name"] for t in plotly_json(energies)["data"]} == {"E(data)", "E(chains)"}
    assert "uniform noise" in status and "σ 0.1 → 0.01" in status


def test_class_conditional_samples_and_bad_classes():
    from space.energy import conditional_samples

    grid, curve, note = conditional_samples(4, 10, 0)
    assert "class 4" in plotly_json(grid)["layout"]["title"]["text"]
    assert " of 16 chains are read as a 4 by `classifier-digits`" in note
    assert len(plotly_json(curve)["data"][0]["y"]) == 10
    grid, curve, note = conditional_samples(12, 10, 0)
    assert grid == curve == gr.skip() and "class: enter a whole number from 0 to 9; got 12" in note


def test_the_jem_comparison_lists_every_model():
    from space.energy import jem_comparison

    table, note, curve, jem_grid, jempp_grid = jem_comparison()
    assert set(table["model"]) == {"JEM", "JEM++", "classifier (same network)"}
    assert "real digits against real digits give" in note and "lower is better" in note
    assert {t["name"].split(" (")[0] for t in plotly_json(curve)["data"]} == {"JEM", "JEM++"}


def test_buffer_against_noise_pairs_every_snapshot_both_trainers_wrote():
    from functools import lru_cache

    from dgm_core.checkpoints import CHECKPOINT_DIR, load_checkpoint

    grids = energy_lab.buffer_against_noise(lru_cache(None)(load_checkpoint))
    on_disk = {p.stem for p in (CHECKPOINT_DIR / "ebm-digits" / "samples").glob("*.png")}
    on_disk &= {p.stem for p in (CHECKPOINT_DIR / "ebm-digits-noise" / "samples").glob("*.png")}
    assert list(grids) == sorted(on_disk) and len(grids) >= 2
    for epoch, pair in grids.items():
        assert pair["replay buffer"].parent.parent.name == "ebm-digits"
        assert pair["uniform noise"].parent.parent.name == "ebm-digits-noise"
        assert pair["replay buffer"].stem == pair["uniform noise"].stem == epoch


@pytest.fixture(scope="module")
def demo(space_demo):
    """The whole Space, built once for the session (conftest's space_demo)."""
    return space_demo


def test_the_space_builds_the_buffer_against_noise_tab(demo):
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    texts = {getattr(b, "value", None) for b in demo.blocks.values() if isinstance(b, gr.Markdown)}
    assert "snapshot" in labels
    assert {"**chains started from replay buffer**", "**chains started from uniform noise**"} <= texts


@pytest.mark.slow
def test_a_train_click_during_a_live_run_is_run_next_not_dropped(demo):
    """Gradio's default trigger_mode "once" dropped the click while the pause it also sends stopped the
    run: the run froze with no message (seen in Chromium)."""
    modes = {d.get("api_name"): d.get("trigger_mode") for d in demo.config["dependencies"]}
    assert modes["ebm_live"] == modes["flow_live"] == modes["gan_live"] == "always_last"
