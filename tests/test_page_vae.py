"""AppTest drives the VAE page on the shipped checkpoints: sliders, traversals, interpolation,
reconstructions, the β comparison, the IWAE panel, attribute vectors, and bad input."""
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dgm_core.checkpoints import load_checkpoint
from tests.conftest import by_key as _by_key
from tests.conftest import chart_spec as _chart
from tests.conftest import no_exception, open_lab

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "labs/vae.py"


def _lab() -> AppTest:
    at = open_lab(PAGE)
    _no_exception(at)
    return at


def _no_exception(at):
    """No exception and, on this page, no error either: the shipped checkpoints must all load."""
    no_exception(at)
    assert not at.error, [e.value for e in at.error]


def _array(z):
    """Plotly sends arrays as typed-array dicts ({"dtype", "bdata", "shape"}) or nested lists."""
    import base64

    import numpy as np

    if isinstance(z, dict):
        shape = tuple(int(n) for n in str(z["shape"]).split(","))
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.asarray(z, dtype=float)


FIRST_RENDER = """
import time, torch, dgm_core.vae, dgm_core.figures.vae                  # a running server has these imported
from streamlit.testing.v1 import AppTest
start = time.perf_counter()
at = AppTest.from_file(%r, default_timeout=120)
at.run()
at.switch_page("labs/vae.py").run()
assert not at.exception, at.exception
print(time.perf_counter() - start)
"""


def test_first_render_with_checkpoints_loaded_is_under_three_seconds():
    """In a fresh process, so nothing is cached: the render loads the four checkpoints, the test
    sets and the latent reports, and draws every tab."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", FIRST_RENDER % APP], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    elapsed = float(result.stdout.strip().splitlines()[-1])
    assert elapsed < 3.0, f"first render took {elapsed:.2f} s"
    at = _lab()
    assert "Variational autoencoders" in at.title[0].value
    assert [t.label for t in at.tabs][:3] == ["Latent sliders", "Traversals", "Interpolation"]


def test_moving_a_slider_decodes_that_latent_point():
    at = _lab()
    sliders = [s for s in at.slider if s.key and s.key.startswith("vae_z")]
    assert len(sliders) == 10 and all(s.value == 0.0 for s in sliders)
    before = _array(_chart(at, "vae_decoded")["data"][0]["z"])
    sliders[0].set_value(2.5).run()
    _no_exception(at)
    after = _array(_chart(at, "vae_decoded")["data"][0]["z"])
    assert abs(after - before).max() > 0.05
    # The picture is the decoder's output at that point (an independent decode of the checkpoint).
    model = load_checkpoint("vae-digits-beta1").model
    dim = int(sliders[0].key.split("_")[1][1:])
    z = torch.zeros(1, model.latent_dim)
    z[0, dim] = 2.5
    expected = model.decode_mean(z)[0, 0].detach().numpy()[::-1]
    assert abs(after - expected).max() < 1e-4


def test_starting_from_a_test_image_sets_the_sliders_to_its_code():
    at = _lab()
    _by_key(at.radio, "vae_start").set_value("a test image's code").run()
    _by_key(at.number_input, "vae_start_image").set_value(5).run()
    _no_exception(at)
    sliders = [s for s in at.slider if s.key and s.key.startswith("vae_z")]
    assert any(abs(s.value) > 0.05 for s in sliders)


def test_interpolation_traversal_and_reconstruction_panels():
    at = _lab()
    _by_key(at.radio, "vae_interp_mode").set_value("spherical").run()
    _by_key(at.number_input, "vae_interp_b").set_value(7).run()
    _no_exception(at)
    strip = _chart(at, "vae_interp")
    assert "spherical interpolation" in strip["layout"]["title"]["text"]
    assert strip["layout"]["xaxis"]["ticktext"][:2] == ["A", "μ(A)"] and len(strip["layout"]["xaxis"]["ticktext"]) == 14
    trav = _chart(at, "vae_traversal")
    assert len(trav["layout"]["yaxis"]["ticktext"]) == 10 and len(trav["layout"]["xaxis"]["ticktext"]) == 9
    _by_key(at.number_input, "vae_sample_seed").set_value(3).run()
    _no_exception(at)


def test_beta_comparison_on_shapes_shows_mig_and_curves():
    at = _lab()
    _by_key(at.selectbox, "vae_dataset").set_value("shapes").run()
    _no_exception(at)
    mig = _chart(at, "vae_cmp_mig")
    assert [trace["name"].split(" ")[2] for trace in mig["data"]] == ["1", "4"]
    curves = _chart(at, "vae_cmp_curves")
    assert {t["name"] for t in curves["data"]} >= {"β = 1 (vae-shapes-beta1) (test)", "β = 4 (vae-shapes-beta4) (test)"}
    assert any("MIG" in c.value for c in at.caption)


def test_digits_comparison_says_mig_needs_factors_and_nll_panel_estimates():
    at = _lab()
    assert any("only the `shapes` dataset" in i.value for i in at.info)
    nll = _chart(at, "vae_nll_curves")
    for trace in nll["data"]:
        assert trace["x"][0] == 1 and trace["y"] == sorted(trace["y"], reverse=True)   # tightens as k grows
    _by_key(at.selectbox, "vae_nll_k").set_value(100).run()
    _by_key(at.button, "vae_nll_go").click().run()
    _no_exception(at)
    message = next(s.value for s in at.success if "IWAE" in s.value)
    assert "bits/dim" in message


def test_attribute_vector_on_shapes_moves_the_chosen_factor():
    at = _lab()
    _by_key(at.selectbox, "vae_dataset").set_value("shapes").run()
    _by_key(at.selectbox, "vae_attr_factor").set_value("x").run()
    _no_exception(at)
    strip = _chart(at, "vae_attr")
    assert "x = grid value" in strip["layout"]["title"]["text"]


@pytest.mark.parametrize("text, message", [
    ("no/such/folder/really", "Could not load"),
    ("/definitely/not/here", "No checkpoint named"),
])
def test_a_bad_checkpoint_path_shows_an_error_and_keeps_the_shipped_one(text, message):
    at = _lab()
    _by_key(at.text_input, "vae_other").set_value(text).run()
    assert not at.exception
    assert any(message in e.value for e in at.sidebar.error) or any(message in e.value for e in at.error)
    assert "vae-digits-beta1" in at.caption[0].value or any("vae-digits-beta1" in c.value for c in at.caption)


def test_a_corrupt_checkpoint_folder_is_reported_not_raised(tmp_path):
    import shutil

    from dgm_core.checkpoints import CHECKPOINT_DIR

    shutil.copytree(CHECKPOINT_DIR / "vae-digits-beta1", tmp_path / "broken")
    (tmp_path / "broken" / "model.safetensors").write_bytes(b"garbage")
    at = _lab()
    _by_key(at.text_input, "vae_other").set_value(str(tmp_path / "broken")).run()
    assert not at.exception
    assert any("model.safetensors could not be loaded" in e.value for e in at.sidebar.error)


def test_a_valid_folder_can_be_loaded(tmp_path):
    import shutil

    from dgm_core.checkpoints import CHECKPOINT_DIR

    shutil.copytree(CHECKPOINT_DIR / "vae-digits-beta4", tmp_path / "mine")
    at = _lab()
    _by_key(at.text_input, "vae_other").set_value(str(tmp_path / "mine")).run()
    _no_exception(at)
    assert any(str(tmp_path / "mine") in s.value for s in at.sidebar.success)


def test_independent_decode_oracle_is_meaningful():
    """Guard for test_moving_a_slider...: different latent points decode to different pictures."""
    model = load_checkpoint("vae-digits-beta1").model
    z = torch.zeros(2, model.latent_dim)
    z[1] = 2.5
    images = model.decode_mean(z)
    assert (images[0] - images[1]).abs().max() > 0.05


def test_a_slider_move_decodes_and_renders_in_under_50_ms():
    from benchmarks.vae_slider import BUDGET_MS, measure

    timings = measure("vae-digits-beta1", repeats=30, with_page=False)
    assert timings["ours"] < BUDGET_MS, timings


def test_attribute_vector_for_x_moves_the_shape_along_x():
    """On the shipped β = 4 shapes model: the vector (mean code of shapes on the right) − (mean code of
    the others) shifts a decoded shape to the right; its negative to the left (pixel centre of mass)."""
    from dgm_core import vae
    from dgm_core.data import load_shapes

    model = load_checkpoint("vae-shapes-beta4").model
    data = load_shapes("test", 32, n=1000, seed=7)
    mu, _ = vae.encode_means(model, data.images)
    right = data.factor_index[:, 3] >= 16
    vector = vae.attribute_vector(mu, right)
    columns = torch.arange(32, dtype=torch.float32) + 0.5

    def centre_x(images):
        mass = images[:, 0].sum(1)                      # (N, W): column mass
        return (mass * columns).sum(1) / mass.sum(1)

    moved = []
    for index in range(20):
        images = vae.attribute_images(model, data.images[index], vector, torch.tensor([-1.0, 0.0, 1.0]))
        moved.append(centre_x(images))
    moved = torch.stack(moved)                          # (20 images, 3 strengths)
    assert (moved[:, 2] > moved[:, 1]).float().mean() > 0.9 and (moved[:, 0] < moved[:, 1]).float().mean() > 0.9
    assert (moved[:, 2] - moved[:, 0]).mean() > 3       # pixels
