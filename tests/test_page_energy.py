"""AppTest drives the energy-based page: live 2-D training (step, a bad noise schedule, reset), the
class-conditional sampler and the JEM comparison table."""
import re

import pytest

from tests.conftest import by_key as _by_key
from tests.conftest import chart_spec as _chart
from tests.conftest import finish_live, open_lab
from tests.conftest import no_exception as _no_exception

PAGE = "labs/energy.py"


def _finish_steps(at):
    return finish_live(at, "ebm")


@pytest.fixture(scope="module")
def page():
    return open_lab(PAGE)


def test_step_trains_the_energy_and_draws_its_chains():
    at = open_lab(PAGE)
    _by_key(at.slider, "ebm_steps_per_refresh").set_value(7).run()
    _by_key(at.button, "ebm_step").click().run()
    _finish_steps(at)
    _no_exception(at)
    assert at.session_state["ebm_runner"].session.steps == 7
    panel = _chart(at, "ebm_panel")
    assert "step 7" in panel["layout"]["title"]["text"]
    assert {t.get("name") for t in panel["data"]} >= {"real data", "SGLD chains (this step)", "chain moves this step"}
    names = {t["name"] for t in _chart(at, "ebm_energies")["data"]}
    assert names == {"E(data)", "E(chains)"}


def test_a_one_sided_noise_schedule_is_refused_and_the_model_keeps_its_settings():
    at = open_lab(PAGE)
    _by_key(at.text_input, "ebm_sigma0").set_value('0.0').run()
    _no_exception(at)
    assert any("both ends above 0" in e.value for e in at.error)
    assert at.session_state["ebm_runner"].settings.sigma_start == 0.1


def test_noise_init_and_a_schedule_apply_at_step_zero():
    at = open_lab(PAGE)
    _by_key(at.radio, "ebm_init").set_value("noise").run()
    _by_key(at.text_input, "ebm_sigma1").set_value('0.01').run()
    config = at.session_state["ebm_runner"].settings
    assert config.init == "noise" and config.sigma_end == 0.01
    assert any("uniform noise" in c.value and "σ 0.1 → 0.01" in c.value for c in at.caption)


def test_class_conditional_samples_and_their_energy(page):
    at = page
    _by_key(at.selectbox, "ebm_class").set_value(7).run()
    _no_exception(at)
    assert "class 7" in _chart(at, "ebm_cond_grid")["layout"]["title"]["text"]
    curve = _chart(at, "ebm_cond_energy")
    assert curve["data"][0]["name"] == "E(x, 7)"
    assert any(re.fullmatch(r"\d+ of 16 chains are read as a 7 by `classifier-digits`.*", c.value) for c in at.caption)


def test_the_jem_table_has_both_models_two_seeds_and_the_plain_classifier(page):
    table = next(d.value for d in page.dataframe if "model" in d.value.columns)
    counts = table["model"].value_counts().to_dict()
    assert counts == {"JEM": 2, "JEM++": 2, "classifier (same network)": 2}
    generative = table[table["model"] != "classifier (same network)"]
    assert generative["FD of the chains"].notna().all() and generative["FD of 500 starts"].notna().all()
    assert any("points below the plain classifier" in c.value for c in page.caption)
    # one measurement per model: the chains' distance is the comparison's, read here from its file
    import json

    from dgm_core.compare import RESULTS_DIR, RESULTS_NAME

    written = {s["checkpoint"]: s for row in json.loads((RESULTS_DIR / RESULTS_NAME).read_text("utf-8"))["rows"]
               for s in row["per_seed"]}
    for _, row in generative.iterrows():
        assert row["FD of the chains"] == round(written[row["checkpoint"]]["fd"], 1), row["checkpoint"]
