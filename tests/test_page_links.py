"""A lab's state travels in its URL: a shared link opens the same view, and a link with bad or stale
parameters opens the lab with a message and the defaults for those parts, never a traceback."""
import json

import pytest

from tests.conftest import APP
from tests.conftest import by_key as _by_key
from tests.conftest import no_exception as _no_exception


def open_link(page: str, params: dict[str, str]):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    _no_exception(at)
    return at


def _link_warnings(at) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("This link's settings")]


def test_a_vqvae_link_opens_the_same_clustering():
    at = open_link("labs/vqvae.py", {"vq_checkpoint": "vqvae-digits-norestart", "vq_k": "17",
                                      "vq_repr": "code histogram", "vq_method": "UMAP", "vq_neighbours": "8"})
    ss = at.session_state
    assert (ss["vq_checkpoint"], ss["vq_k"], ss["vq_repr"], ss["vq_method"], ss["vq_neighbours"]) == \
        ("vqvae-digits-norestart", "17", "histogram", "umap", "8")
    assert not _link_warnings(at)


def test_a_link_to_the_gan_lab_sets_its_live_settings_and_theory():
    at = open_link("labs/gans.py", {"gan_n_critic": "3", "gan_seed": "7", "gan_theta": "-4.5", "gan_dataset": "ring"})
    ss = at.session_state
    assert (ss["gan_n_critic"], ss["gan_seed"], ss["gan_theta"], ss["gan_dataset"]) == ("3", "7", -4.5, "ring")
    configs = ss["gan_runner"].settings
    wgan = configs["wgan"]                         # the live run starts from the link's settings
    assert (wgan.n_critic, wgan.seed, wgan.dataset) == (3, 7, "ring")
    assert not _link_warnings(at)


@pytest.mark.parametrize("page, params, named, default", [
    ("labs/flows.py", {"flow_checkpoint": "deleted-model"}, "`flow_checkpoint=deleted-model`", None),
    ("labs/energy.py", {"vq_k": "17"}, "`vq_k` is not a setting of this view", None),
])
def test_a_bad_or_stale_link_opens_the_lab_with_a_message_and_the_default(page, params, named, default):
    at = open_link(page, params)
    warnings = _link_warnings(at)
    assert len(warnings) == 1 and named in warnings[0]
    if default:
        assert at.session_state[default[0]] == default[1]


@pytest.mark.parametrize("page, key, value, label, problem, in_force", [
    ("labs/vqvae.py", "vq_k", "500", "clusters k (2–30)", "500 is outside 2–30", "10"),
    ("labs/energy.py", "ebm_sgld_steps", "-3", "SGLD steps (1–200)", "-3 is outside 1–200", "20"),
    ("labs/vqvae.py", "vq_k", "abc", "clusters k (2–30)", "'abc' is not a number", "10"),
])
def test_a_link_with_a_number_outside_its_range_says_which_value_is_in_force(page, key, value, label, problem,
                                                                              in_force):
    """The number box takes the link's value as it is, and says under it what is wrong with it and which
    value is in force (Streamlit's own box refused it silently)."""
    at = open_link(page, {key: value})
    assert _by_key(at.text_input, key).label == label and _by_key(at.text_input, key).value == value
    assert any(c.value.startswith(f"{problem}: **{in_force}** is in force.") for c in at.caption), \
        [c.value for c in at.caption]


def test_a_link_names_the_network_and_the_question():
    at = open_link("labs/bayesian_networks.py", {"bn_example": "asia", "dsep_x": "smoke", "dsep_y": "dysp",
                                                  "dsep_z": "bronc,lung"})
    assert at.session_state["bn"].name == "asia" and at.session_state["bn_example"] == "asia"
    chosen = {w.label: w.value for w in at.multiselect if w.key.startswith("dsep_")}
    assert chosen == {"X": ["smoke"], "Y": ["dysp"], "Z (observed)": ["bronc", "lung"]}
    assert not _link_warnings(at)
    # the answer shown is the one for that question (in asia both paths pass an observed node)
    texts = [str(e.value) for kind in ("markdown", "success", "error", "info", "warning") for e in at.get(kind)]
    assert any("smoke ⟂ dysp | bronc, lung" in t for t in texts)


def test_a_link_with_nodes_of_another_network_shows_the_suggested_question_and_says_why():
    at = open_link("labs/bayesian_networks.py", {"bn_example": "student", "dsep_x": "smoke", "dsep_y": "Grade"})
    warnings = _link_warnings(at)
    assert len(warnings) == 1 and "smoke" in warnings[0] and "does not have" in warnings[0]
    assert at.session_state["bn"].name == "student"


def test_the_page_offers_a_link_to_its_question_that_opens_it_again():
    from urllib.parse import parse_qs, urlsplit

    at = open_link("labs/bayesian_networks.py", {"bn_example": "asia", "dsep_x": "tub", "dsep_y": "smoke"})
    link = next(c.value for c in at.code if "bn_example=" in c.value)
    params = {k: v[0] for k, v in parse_qs(urlsplit(link).query, keep_blank_values=True).items()}
    assert params == {"bn_example": "asia", "dsep_x": "tub", "dsep_y": "smoke", "dsep_z": ""}
    again = open_link("labs/bayesian_networks.py", params)
    chosen = {w.label: w.value for w in again.multiselect if w.key.startswith("dsep_")}
    assert chosen["X"] == ["tub"] and chosen["Y"] == ["smoke"] and chosen["Z (observed)"] == []


@pytest.mark.parametrize("page, tab_name", [("labs/flows.py", "realnvp-digits"), ("labs/energy.py", "ebm-cond-digits"),
                                            ("labs/gans.py", "cgan-digits"), ("labs/vae.py", None),
                                            ("labs/vqvae.py", "vqvae-digits")])
def test_the_labs_offer_their_checkpoint_as_a_zip_and_figures_in_the_chosen_format(page, tab_name):
    at = open_link(page, {})
    labels = [b.proto.label for b in at.get("download_button")]
    if tab_name is not None:
        assert f"Download {tab_name} (zip)" in labels
    else:
        assert any(label.startswith("Download vae-") and label.endswith("(zip)") for label in labels)
    _by_key(at.radio, "figure_format").set_value("SVG").run()
    configs = [json.loads(c.proto.config) for c in at.get("plotly_chart")]
    assert configs and all(c["toImageButtonOptions"]["format"] == "svg" for c in configs)


def test_latent_slider_positions_and_image_choices_travel_in_a_link():
    at = open_link("labs/vae.py", {})
    slider = next(s for s in at.slider if s.key.startswith("vae_z"))
    linked = open_link("labs/vae.py", {slider.key: "1.25", "vae_interp_a": "3", "vae_attr_image": "7"})
    assert next(s for s in linked.slider if s.key == slider.key).value == 1.25
    assert _by_key(linked.text_input, "vae_interp_a").value == "3"
    assert _by_key(linked.text_input, "vae_attr_image").value == "7"
    assert not _link_warnings(linked)
