"""The Space's live controller (space/live.py) as Gradio calls it, and the figures every tab opens with.

Train, Pause, Resume and Step act on one run kept per browser session (a gr.State): Resume goes on
from where the run stopped, Step trains one refresh's worth more, and a button with nothing to act on
says so. No tab opens on an empty chart frame: every figure has its first value when the Space is built."""
import json

import gradio as gr
import pytest

from tests.conftest import plotly_json as _plotly_json

GAN = dict(dataset="8gaussians", steps=6, steps_per_refresh=3, n_critic=2, clip=0.1, gp_lambda=0.1,
           generator_loss="non-saturating", seed=0)


def titles(updates) -> list[str]:
    return [_plotly_json(panel.to_json())["layout"]["title"]["text"] for panel in updates[:3]]


def last(stream):
    return list(stream)[-1]


def test_resume_goes_on_from_where_the_run_stopped_and_step_adds_one_refresh():
    from space import live
    from space.gans import live_training

    *panels, losses, table, status, run = last(live_training(**GAN))
    assert run.session.steps == 6 and "step **6** of 6" in status and "done" in status
    *panels, losses, table, status, same = last(live.resume(run, 15, 3))
    assert same is run and run.session.steps == 15                    # from 6 on, not from 0
    assert titles(panels) == ["GAN · step 15", "WGAN (clipping) · step 15", "WGAN-GP · step 15"]
    assert set(table["steps"]) == {15}
    *panels, losses, table, status, same = last(live.step(run, 4))
    assert run.session.steps == 19 and "step **19** (" in status and "a Step of 4 done" in status
    assert " of 19" not in status                   # a Step has no goal to be "done" at: it said "19 of 19 · done"
    assert [len(h) for h in run.session.histories().values()] == [19, 19, 19]


@pytest.mark.parametrize("call, message", [
    (lambda live: live.resume(None, 100, 5), "nothing to resume yet: press the Train button first"),
    (lambda live: live.step(None, 5), "nothing to step yet"),
    (lambda live: live.resume(None, None, 5), "steps: the box is empty"),
    (lambda live: live.step(None, float("nan")), "steps per refresh: nan is not a finite number"),
])
def test_a_button_with_nothing_to_act_on_says_so(call, message):
    from space import live

    with pytest.raises(gr.Error, match=message):
        next(call(live))


def test_resume_at_the_end_says_how_to_go_on():
    from space import live
    from space.gans import live_training

    *_, run = last(live_training(**GAN))
    with pytest.raises(gr.Error, match="steps: the run is at step 6, already past the 6 this box asks for; raise it "
                                       "above 6 to train further"):
        next(live.resume(run, 6, 3))


def test_a_pause_before_a_run_does_not_stop_it_and_one_during_it_ends_it_at_the_next_step():
    """Pause is recorded per browser session; a stream started after it trains, one running ends."""
    from types import SimpleNamespace

    from space import live
    from space.gans import live_training

    request = SimpleNamespace(session_hash="a-student")
    live.request_pause(request)                                   # pressed before: no effect on the run
    stream = live_training(**{**GAN, "steps": 60, "steps_per_refresh": 2}, request=request)
    *_, status, run = next(stream)
    # it trains (a refresh takes at most 2 steps and LIVE_TRAIN_SECONDS: a loaded machine got 1 step in)
    first = run.session.steps
    assert 1 <= first <= 2 and "paused" not in status
    live.request_pause(request)
    rest = list(stream)
    assert run.session.steps <= first + 2 and len(rest) <= 1 and (not rest or "paused" in rest[-1][-2])


@pytest.fixture(scope="module")
def demo_config(space_demo):
    return space_demo.config


def test_no_tab_opens_on_an_empty_chart_frame(demo_config):
    components = demo_config["components"]
    empty = [c["props"].get("label") for c in components
             if c["type"] in ("plot", "dataframe", "image") and not c["props"].get("value")]
    assert not empty, empty
    live_titles = {json.loads(c["props"]["value"]["plot"])["layout"].get("title", {}).get("text", "")
                   for c in components if c["type"] == "plot"}
    for title in ("GAN · step 0", "RealNVP: log density and samples · step 0", "EBM: energy and SGLD chains · step 0",
                  "DDPM · step 0", "Flow matching, OT coupling · step 0"):
        assert title in live_titles


def test_every_live_tab_has_train_pause_resume_and_step(demo_config):
    names = {d.get("api_name") for d in demo_config["dependencies"]}
    live_labs = ("gan", "flow", "ebm", "diffusion")
    for lab in live_labs:
        assert {f"{lab}_live", f"{lab}_pause", f"{lab}_resume", f"{lab}_step"} <= names
    buttons = [c["props"]["value"] for c in demo_config["components"] if c["type"] == "button"]
    assert buttons.count("Resume") == buttons.count("Step") == len(live_labs)
