"""AppTest drives the GAN page: live training (step, run / pause, reset, changed settings, a model
that diverges), the theory panel, and the trained checkpoints' samples, FID and cGAN grid."""
import math

import pytest

from dgm_core import gan
from tests.conftest import by_key as _by_key
from tests.conftest import chart_spec as _chart
from tests.conftest import finish_live, open_lab
from tests.conftest import no_exception as _no_exception

PAGE = "labs/gans.py"


def _live(at):
    return at.session_state["gan_runner"].session


def _finish_steps(at):
    return finish_live(at, "gan")


def test_first_render_shows_three_panels_and_the_theory():
    at = open_lab(PAGE)
    _no_exception(at)
    titles = [_chart(at, f"gan_panel_{k}")["layout"]["title"]["text"] for k in gan.KINDS]
    assert [t.split(" · ")[0] for t in titles] == ["GAN", "WGAN (clipping)", "WGAN-GP"]
    assert all("step 0" in t for t in titles)
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["W₁"]) == pytest.approx(2.0, abs=1e-3)             # θ = 2, equal widths


def test_step_advances_all_three_together_by_steps_per_refresh():
    at = open_lab(PAGE)
    _by_key(at.slider, "gan_steps_per_refresh").set_value(7).run()
    _by_key(at.button, "gan_step").click().run()
    _finish_steps(at)
    _no_exception(at)
    assert {k: m.steps for k, m in _live(at).models.items()} == {"gan": 7, "wgan": 7, "wgan-gp": 7}
    assert "step 7" in _chart(at, "gan_panel_wgan-gp")["layout"]["title"]["text"]
    assert all(len(c) >= 1 for c in _live(at).metrics.values())          # 8 Gaussians: coverage recorded
    losses = _chart(at, "gan_losses")
    assert {t["name"] for t in losses["data"] if t.get("showlegend", True) is not False} >= {"GAN", "WGAN-GP"}


def test_run_pause_and_reset():
    """Run and Pause are two buttons in fixed places: while it runs, Run is greyed out and Pause is not;
    one click on Pause stops the thread before its next step, and a second changes nothing."""
    at = open_lab(PAGE)
    runner = at.session_state["gan_runner"]
    assert _by_key(at.button, "gan_pause").disabled and not _by_key(at.button, "gan_run").disabled
    _by_key(at.button, "gan_run").click().run()
    assert runner.busy
    assert _by_key(at.button, "gan_run").disabled and not _by_key(at.button, "gan_pause").disabled
    _by_key(at.button, "gan_pause").click().run()
    assert not runner.busy
    stopped = _live(at).steps
    assert _by_key(at.button, "gan_pause").disabled and not _by_key(at.button, "gan_run").disabled
    assert any(m.label.startswith("steps per second") and m.value == "paused" for m in at.metric)
    assert _live(at).steps == stopped                      # nothing trains after the pause
    _by_key(at.button, "gan_step").click().run()
    _finish_steps(at)
    assert _live(at).models["gan"].steps > 0
    _by_key(at.button, "gan_reset").click().run()
    _no_exception(at)
    assert all(m.steps == 0 for m in _live(at).models.values())


def test_settings_changed_before_any_step_apply_at_once():
    """A value typed without Enter, then a click on Run: at step 0 there is nothing to lose, so the
    new value applies and Run stays enabled (it used to grey out until Reset)."""
    at = open_lab(PAGE)
    _by_key(at.text_input, "gan_n_critic").set_value('3').run()
    assert not _by_key(at.button, "gan_run").disabled
    assert _live(at).models["wgan"].config.n_critic == 3
    assert any("Training with** data 8gaussians" in c.value and "n_critic 3" in c.value for c in at.caption)


def _trained_a_step(at):
    _by_key(at.slider, "gan_steps_per_refresh").set_value(1).run()
    _by_key(at.button, "gan_step").click().run()
    return _finish_steps(at)


def test_changed_settings_wait_for_reset_then_apply():
    at = _trained_a_step(open_lab(PAGE))
    _by_key(at.selectbox, "gan_dataset").set_value("moons").run()
    assert any("press **Reset**" in i.value for i in at.info)
    assert _by_key(at.button, "gan_step").disabled
    assert _live(at).models["gan"].config.dataset == "8gaussians"
    _by_key(at.text_input, "gan_n_critic").set_value('3').run()
    in_force = next(c.value for c in at.caption if c.value.startswith("**Training with**"))
    assert "data 8gaussians" in in_force and "n_critic 5" in in_force and "apply on **Reset**" in in_force
    _by_key(at.button, "gan_reset").click().run()
    _no_exception(at)
    assert any("Training with** data moons" in c.value and "n_critic 3" in c.value for c in at.caption)
    live = _live(at)
    assert live.models["wgan"].config.dataset == "moons" and live.models["wgan"].config.n_critic == 3
    assert live.models["gan"].config.n_critic == 1
    _by_key(at.button, "gan_step").click().run()
    _finish_steps(at)
    assert any("Mode coverage is counted on the Gaussian mixtures" in c.value for c in at.caption)


def test_a_diverging_model_is_frozen_and_reported(monkeypatch):
    real_step = gan.ToyGAN.step

    def step(self):
        record = real_step(self)
        return {**record, "loss_d": math.nan} if self.config.kind == "wgan" and self.steps >= 3 else record

    monkeypatch.setattr(gan.ToyGAN, "step", step)
    at = open_lab(PAGE)
    _by_key(at.slider, "gan_steps_per_refresh").set_value(5).run()
    _by_key(at.button, "gan_step").click().run()
    _finish_steps(at)
    assert not at.exception
    assert any("WGAN (clipping) diverged at step 3" in e.value for e in at.error)
    assert _live(at).models["wgan"].steps == 3 and _live(at).models["gan"].steps == 5
    _by_key(at.button, "gan_step").click().run()
    _finish_steps(at)
    assert _live(at).models["wgan"].steps == 3 and _live(at).models["gan"].steps == 10


def test_theory_slider_moves_the_generator():
    at = open_lab(PAGE)
    _by_key(at.slider, "gan_theta").set_value(9.0).run()
    _no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["JS (nats)"]) == pytest.approx(math.log(2), abs=1e-3)
    assert abs(float(metrics["∂/∂θ saturating"])) < 1e-4 < abs(float(metrics["∂/∂θ non-saturating"]))


def test_checkpoint_samples_fid_curves_and_conditional_grid():
    at = open_lab(PAGE)
    _no_exception(at)
    fid = _chart(at, "gan_fid_curves")
    assert [t["name"] for t in fid["data"] if t.get("showlegend") is not False] == ["GAN", "WGAN (clipping)", "WGAN-GP"]
    _by_key(at.radio, "gan_image_kind").set_value("wgan-gp").run()
    _no_exception(at)
    assert "WGAN-GP, epoch-" in _chart(at, "gan_snapshot_grid")["layout"]["title"]["text"]
    grid = _chart(at, "gan_cgan_grid")
    assert grid["layout"]["yaxis"]["ticktext"] == [str(d) for d in range(10)]
    assert any("as the digit they were asked for" in c.value for c in at.caption)
    # the cGAN's FD under its grid is the comparison's figure, read here from the results file itself
    import json

    from dgm_core.paths import home
    body = json.loads((home() / "benchmarks/results/compare/compare.json").read_text(encoding="utf-8"))
    stored = next(s["fd"] for r in body["rows"] for s in r["per_seed"] if s["checkpoint"] == "cgan-digits")
    caption = next(c.value for c in at.caption if "as the digit they were asked for" in c.value)
    assert f"FD {stored:.1f} ±" in caption and "`cgan-digits`" in caption


# ------------------------------------------------------------------ a student's own points
def _own_points(at, name: str, data: bytes):
    _by_key(at.selectbox, "gan_dataset").set_value("your own points (CSV)").run()
    at.file_uploader(key="gan_points_file").upload(name, data).run()
    return at


def test_own_points_from_a_csv_train_the_three_models_after_reset():
    import numpy as np

    angle = np.linspace(0, 2 * np.pi, 300, endpoint=False)
    rows = "\n".join(f"{100 + 20 * np.cos(a):.4f},{50 + 20 * np.sin(a):.4f}" for a in angle)
    at = _own_points(_trained_a_step(open_lab(PAGE)), "circle.csv", f"x,y\n{rows}\n".encode())
    _no_exception(at)
    assert any("circle.csv (300 points)" in c.value and "scaled by" in c.value for c in at.caption)
    assert any("press **Reset**" in i.value for i in at.info)
    _by_key(at.button, "gan_reset").click().run()
    _by_key(at.button, "gan_step").click().run()
    _finish_steps(at)
    _no_exception(at)
    live = _live(at)
    pool = live.models["gan"].pool.numpy()
    assert np.allclose(np.linalg.norm(pool, axis=1), 2.5, atol=1e-3)      # the circle, scaled to radius 2.5
    assert all(m.steps == 1 for m in live.models.values())
    assert any("Training with** data circle.csv (300 points)" in c.value for c in at.caption)
    panel = _chart(at, "gan_panel_gan")
    assert {t["name"] for t in panel["data"] if t.get("name")} >= {"real data", "generated"}


@pytest.mark.parametrize("data, message", ids=["empty", "wrong columns", "not a number", "nan", "too many"], argvalues=[
    (b"", "is empty"),
    (b"a,b,c\n1,2,3\n", "has no columns named x and y"),
    (b"x,y\n1,2\n3,oops\n", "row 3 has 'oops', which is not a number"),
    (b"x,y\n" + b"1,2\n" * 5 + b"nan,1\n" + b"3,4\n" * 10, "row 7 is nan,1"),
    (b"x,y\n" + b"".join(f"{i},{i}\n".encode() for i in range(10_001)), "at most 10,000"),
])
def test_a_bad_points_file_is_refused_and_the_models_keep_their_data(data, message):
    at = _own_points(open_lab(PAGE), "bad.csv", data)
    _no_exception(at)
    assert any(message in e.value and e.value.startswith("This file cannot be used") for e in at.error), \
        [e.value for e in at.error]
    assert _live(at).models["gan"].config.dataset == "8gaussians"
    assert _by_key(at.button, "gan_reset").disabled


def test_the_image_gans_are_shown_one_dataset_at_a_time_each_in_its_own_judge():
    """With GANs on digits and on mnist-5k, a radio chooses the dataset; the curves and table then hold only that
    dataset's checkpoints (named by the catalogue, read here from their records) and name its judge."""
    from dgm_core.catalogue import shipped

    at = open_lab(PAGE)
    radio = _by_key(at.radio, "gan_image_dataset")
    assert radio.options == ["digits", "mnist-5k"]
    radio.set_value("mnist-5k").run()
    _no_exception(at)
    on_mnist = {i.model for i in shipped() if i.model_type == "image-gan" and i.dataset == "mnist-5k" and i.model != "cgan"}
    names = {"gan": "GAN", "wgan": "WGAN (clipping)", "wgan-gp": "WGAN-GP"}
    fid = _chart(at, "gan_fid_curves")
    assert {t["name"] for t in fid["data"] if t.get("showlegend") is not False} == {names[m] for m in on_mnist}
    assert any("`classifier-mnist-5k`" in m.value and "Trained on `mnist-5k`" in m.value for m in at.markdown)
