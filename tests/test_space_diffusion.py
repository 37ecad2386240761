"""The Space's diffusion tab as Gradio calls it: the same content as the page, bad boxes get messages naming
the field, and the live stream draws the field at the time each browser session chose."""
import math
import re

import gradio as gr
import pytest

from dgm_core.diffusion.schedules import cosine_schedule
from space.inputs import keeps_figures
from tests.conftest import plotly_json as _plotly_json


def plotly_json(figure) -> dict:
    return _plotly_json(figure.to_json())


LIVE = dict(dataset="8gaussians", steps=6, steps_per_refresh=3, hidden=32, lr=2e-3, batch_size=64, sampler_steps=10,
            seed=0)


def test_the_forward_process_is_the_pages():
    from space.diffusion import forward_process

    figure, caption = forward_process("8gaussians", "ddpm", 0.5, 0)
    a = math.sqrt(float(cosine_schedule(1000).alphas_cumprod[round(0.5 * 999)]))
    assert f"x_t = {a:.3f} x₀ + {math.sqrt(1 - a * a):.3f} ε" in caption and "closed form" in caption
    assert plotly_json(figure)["data"][0]["type"] == "heatmap"
    figure, caption = keeps_figures(outputs=2, message_at=1)(forward_process)("8gaussians", "ddpm", 1.5, 0)
    assert figure == gr.skip() and "time t: enter a number from 0 to 1; got 1.5" in caption


@pytest.mark.parametrize("field, value, message", [
    ("hidden", None, "MLP width: the box is empty"),
    ("batch_size", 4, "batch size: enter a whole number from 16 to 2,048; got 4"),
    ("lr", float("inf"), "is not a finite number"),
    ("sampler_steps", 2.5, "sampler steps: enter a whole number from 1 to 1,000; got 2.5"),
])
def test_bad_live_settings_get_a_message_that_names_the_field(field, value, message):
    from space.diffusion import live_training

    *figures, status, run = next(keeps_figures(outputs=8, message_at=6)(live_training)(**{**LIVE, field: value}))
    assert all(f == gr.skip() for f in figures) and run == gr.skip()
    assert re.search(message, status) and status.startswith("**Not run:** ")


class _Request:
    session_hash = "test-session"


def test_the_live_stream_trains_the_four_and_draws_the_chosen_time():
    from space.diffusion import live_training, show_time

    show_time(0.3, None, _Request())
    *_, last = list(live_training(**LIVE, request=_Request()))
    *panels, curves, paths, status, run = last
    assert "step **6** of 6" in status and "MLP width 32" in status
    names = [[t.get("name") for t in plotly_json(p)["data"]] for p in panels]
    assert "score ∇ log p at time 0.30" in names[0] and "velocity v at time 0.30" in names[2]
    assert "paths (annealed Langevin)" in names[1] and "a noisy walk" in paths
    # the slider redraws the run it is given at the new time, with its status
    *redrawn, redrawn_status = show_time(0.9, run, _Request())
    assert "velocity v at time 0.90" in [t.get("name") for t in plotly_json(redrawn[3])["data"]]
    assert "step **6**" in redrawn_status


def test_the_samplers_need_a_trained_run_then_measure_every_sampler():
    from space.diffusion import live_training, measure_samplers

    assert "No live model has trained yet" in keeps_figures(outputs=5, message_at=2)(measure_samplers)(None)[2]
    *_, last = list(live_training(**{**LIVE, "steps": 30, "steps_per_refresh": 30}, request=_Request()))
    quality, table, note, score, likelihood = measure_samplers(last[-1])
    assert list(likelihood["model"]) == ["DDPM", "Flow matching", "Flow matching, OT coupling"]
    assert len(table) == 7 and "energy distance between 1,000 samples" in note
    assert {t["name"] for t in plotly_json(score)["data"]} == {"DDPM", "Score matching"}
    assert plotly_json(quality)["layout"]["xaxis"]["type"] == "log"


def test_digit_samples_and_bad_digit_inputs():
    from dgm_core.labs.diffusion import digit_runs
    from space.diffusion import digit_samples

    names = digit_runs()
    if not names:
        pytest.skip("no diffusion checkpoint is shipped")
    grid, note = digit_samples(names[0], "DDIM", 10, "7", 1.0, 0)
    assert "10 calls" in plotly_json(grid)["layout"]["title"]["text"] and "class 7, guidance w = 1" in note
    wrapped = keeps_figures(outputs=2, message_at=1)(digit_samples)
    assert "sampler: " in wrapped(names[0], "annealed Langevin", 10, "7", 1.0, 0)[1]
    assert "model calls: the box is empty" in wrapped(names[0], "DDIM", None, "7", 1.0, 0)[1]
    assert "class: choose" in wrapped(names[0], "DDIM", 10, "11", 1.0, 0)[1]
