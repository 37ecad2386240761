"""A lab's state travels in its URL: a shared link opens the same view, and a link with bad or stale
parameters opens the lab with a message and the defaults for those parts, never a traceback."""
import pytest

from tests.conftest import APP
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
        ("vqvae-digits-norestart", 17, "histogram", "umap", 8)
    assert not _link_warnings(at)


def test_a_link_to_the_gan_lab_sets_its_live_settings_and_theory():
    at = open_link("labs/gans.py", {"gan_n_critic": "3", "gan_seed": "7", "gan_theta": "-4.5", "gan_dataset": "ring"})
    ss = at.session_state
    assert (ss["gan_n_critic"], ss["gan_seed"], ss["gan_theta"], ss["gan_dataset"]) == (3, 7, -4.5, "ring")
    configs = ss["gan_live_configs"]
    wgan = configs["wgan"]                         # the live run starts from the link's settings
    assert (wgan.n_critic, wgan.seed, wgan.dataset) == (3, 7, "ring")
    assert not _link_warnings(at)


@pytest.mark.parametrize("page, params, named, default", [
    ("labs/vqvae.py", {"vq_k": "abc"}, "`vq_k=abc`", ("vq_k", 10)),
    ("labs/vqvae.py", {"vq_k": "500"}, "`vq_k=500`", ("vq_k", 10)),
    ("labs/energy.py", {"ebm_sgld_steps": "-3"}, "`ebm_sgld_steps=-3`", ("ebm_sgld_steps", 20)),
    ("labs/flows.py", {"flow_checkpoint": "deleted-model"}, "`flow_checkpoint=deleted-model`", None),
    ("labs/energy.py", {"vq_k": "17"}, "`vq_k` is not a setting of this view", None),
])
def test_a_bad_or_stale_link_opens_the_lab_with_a_message_and_the_default(page, params, named, default):
    at = open_link(page, params)
    warnings = _link_warnings(at)
    assert len(warnings) == 1 and named in warnings[0]
    if default:
        assert at.session_state[default[0]] == default[1]
