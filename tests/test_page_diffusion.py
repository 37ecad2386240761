"""AppTest drives the diffusion page: the forward process against its closed form, live training of the four
models (step, the field's time, bad settings), every sampler measured, and the digits tab (samples, guidance,
the Fréchet distance against steps read from the checkpoints, the comparison's figures)."""
import math

import pytest

from dgm_core.diffusion.schedules import cosine_schedule
from tests.conftest import by_key as _by_key
from tests.conftest import chart_spec as _chart
from tests.conftest import finish_live, open_lab
from tests.conftest import no_exception as _no_exception

PAGE = "labs/diffusion.py"


@pytest.fixture(scope="module")
def page():
    return open_lab(PAGE)


def test_the_forward_process_says_its_signal_and_noise_as_the_schedule_has_them(page):
    at = page
    _by_key(at.slider, "diff_fwd_time").set_value(0.5).run()
    _no_exception(at)
    a = math.sqrt(float(cosine_schedule(1000).alphas_cumprod[round(0.5 * 999)]))    # the schedule, not the page
    assert any(f"x_t = {a:.3f} x₀ + {math.sqrt(1 - a * a):.3f} ε" in c.value for c in at.caption)
    _by_key(at.radio, "diff_fwd_kind").set_value("flow").run()
    assert any("x_t = 0.500 x₀ + 0.500 ε" in c.value for c in at.caption)
    _by_key(at.radio, "diff_fwd_kind").set_value("score").run()
    sigma = 0.05 * (3.0 / 0.05) ** 0.5
    assert any(f"x_t = 1.000 x₀ + {sigma:.3f} ε" in c.value for c in at.caption)
    fig = _chart(at, "diff_forward")
    assert fig["data"][0]["type"] == "heatmap" and fig["data"][1]["name"] == "noised points"
    assert any("1,000 points of 8gaussians" in c.value for c in at.caption)


def test_step_trains_the_four_models_and_the_time_moves_their_arrows():
    at = open_lab(PAGE)
    _by_key(at.slider, "diff_steps_per_refresh").set_value(5).run()
    _by_key(at.button, "diff_step").click().run()
    finish_live(at, "diff")
    _no_exception(at)
    session = at.session_state["diff_runner"].session
    assert session.steps == 5 and set(session.models) == {"ddpm", "score", "flow", "flow-ot"}
    panel = _chart(at, "diff_panel_ddpm")
    names = [t.get("name") for t in panel["data"]]
    assert "score ∇ log p at time 0.00" in names and "paths (DDIM)" in names
    assert "velocity v at time 0.00" in [t.get("name") for t in _chart(at, "diff_panel_flow")["data"]]
    _by_key(at.select_slider, "diff_field_time").set_value(0.7).run()
    assert "score ∇ log p at time 0.70" in [t.get("name") for t in _chart(at, "diff_panel_ddpm")["data"]]
    # score matching reads the time as its nearest σ level, 6/9 of the way up its ladder from 0.05 to 3
    assert f"score ∇ log p at σ = {0.05 * 60 ** (6 / 9):.3g} (time 0.67)" in [
        t.get("name") for t in _chart(at, "diff_panel_score")["data"]]
    assert any("Path length over end-to-end distance" in c.value for c in at.caption)
    curves = _chart(at, "diff_curves")
    assert {t["name"] for t in curves["data"]} >= {"DDPM", "Score matching", "Flow matching", "Flow matching, OT coupling"}


def test_a_bad_setting_is_refused_and_the_models_keep_theirs():
    at = open_lab(PAGE)
    _by_key(at.text_input, "diff_batch").set_value("5").run()
    _no_exception(at)
    assert any("5 is outside 16–2,048" in c.value for c in at.caption)
    assert next(iter(at.session_state["diff_runner"].settings.values())).batch_size == 256
    _by_key(at.text_input, "diff_calls").set_value("").run()
    assert any("The box is empty" in c.value for c in at.caption)


def test_every_sampler_is_measured_on_the_live_models():
    at = open_lab(PAGE)
    assert any("No live model has trained yet" in i.value for i in at.info)
    _by_key(at.slider, "diff_steps_per_refresh").set_value(20).run()
    _by_key(at.button, "diff_step").click().run()
    finish_live(at, "diff")
    _by_key(at.button, "diff_measure").click().run()
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "sampler" in d.value.columns)
    assert sorted(zip(table["model"], table["sampler"])) == sorted([
        ("DDPM", "DDPM ancestral"), ("DDPM", "DDIM"), ("Score matching", "annealed Langevin"),
        ("Flow matching", "Euler"), ("Flow matching", "Heun"), ("Flow matching, OT coupling", "Euler"),
        ("Flow matching, OT coupling", "Heun")])
    quality = _chart(at, "diff_quality")
    samplers = [t["name"] for t in quality["data"] if t["name"] != "data against itself"]
    assert len(samplers) == 7 and quality["layout"]["xaxis"]["type"] == "log"
    floor = next(t for t in quality["data"] if t["name"] == "data against itself")
    # the floor is a trace inside the data's range, not an annotation that stretches a log axis
    assert floor["y"][0] == floor["y"][1] and 0 < floor["y"][0] < max(max(t["y"]) for t in quality["data"])
    assert {t["name"] for t in _chart(at, "diff_score_error")["data"]} == {"DDPM", "Score matching"}
    likelihood = next(d.value for d in at.dataframe if "mean log-likelihood (nats per point)" in d.value.columns)
    assert list(likelihood["model"]) == ["DDPM", "Flow matching", "Flow matching, OT coupling"]
    assert (likelihood["mean log-likelihood (nats per point)"] <= likelihood["the true density's (nats per point)"] + 0.5).all()


def test_digit_samples_with_a_class_and_guidance_are_read_by_the_judge(page):
    at = page
    if not any(w.key == "diff_checkpoint_digits" for w in at.selectbox):
        pytest.skip("no diffusion checkpoint is shipped")
    assert any("the classes 0–9 in turn (a column each), guidance w = 0" in c.value for c in at.caption)
    _by_key(at.selectbox, "diff_digit_class").set_value("3").run()
    _by_key(at.select_slider, "diff_digit_calls_digits").set_value(20).run()
    _by_key(at.slider, "diff_guidance").set_value(2.0).run()
    _no_exception(at)
    assert "20 calls" in _chart(at, "diff_digit_grid")["layout"]["title"]["text"]
    assert any("class 3, guidance w = 2" in c.value and "as the class asked" in c.value for c in at.caption)
    _by_key(at.selectbox, "diff_digit_class").set_value("no label (the unconditional branch)").run()
    assert any("with no label: the unconditional prediction" in c.value for c in at.caption)
    assert {t["name"].split(": ")[1] for t in _chart(at, "diff_fd_calls")["data"] if ": " in t.get("name", "")} >= {
        "DDPM ancestral", "DDIM"}
