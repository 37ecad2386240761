"""The Gradio Space, launched on loopback and driven with gradio_client."""
import pytest

pytestmark = pytest.mark.space

from .conftest import skip_or_fail  # noqa: E402


@pytest.fixture(scope="module")
def client(space_url):
    try:
        from gradio_client import Client
    except ImportError:
        skip_or_fail("gradio_client is not installed")
    return Client(space_url, verbose=False)


def test_d_separation_on_an_edited_network(client):
    spec, x, y, z, q, evidence = client.predict("collider", api_name="/load_network")  # gr.State is not in the API
    assert [d["value"] for d in (x, y, z)] == [["Burglary"], ["Earthquake"], ["Alarm"]] and evidence == "Alarm=on"
    assert "Burglary" in spec
    verdict, figure, trails = client.predict(spec, ["Burglary"], ["Earthquake"], ["Alarm"], api_name="/d_separation")
    assert "d-connected" in verdict and "Burglary – Alarm – Earthquake" in verdict
    assert figure is not None
    verdict, _, _ = client.predict(spec, ["Burglary"], ["Earthquake"], [], api_name="/d_separation")
    assert "d-separated" in verdict
    # An edited spec: remove the collider's CPT rows so it becomes uniform, add a chain.
    edited = "A [0, 1]\n    0.3 0.7\nB [0, 1] | A\n    0: 0.9 0.1\n    1: 0.2 0.8\nC [0, 1] | B\n"
    verdict, _, _ = client.predict(edited, ["A"], ["C"], ["B"], api_name="/d_separation")
    assert "d-separated" in verdict


def test_invalid_spec_and_bad_query_get_clear_messages(client):
    verdict, _, _ = client.predict("A [x, y] | B\nB [u, v] | A\n", ["A"], ["B"], [], api_name="/d_separation")
    assert "invalid" in verdict and "cycle" in verdict
    spec = client.predict("sprinkler", api_name="/load_network")[0]
    verdict, _, _ = client.predict(spec, ["Snow"], ["Rain"], [], api_name="/d_separation")
    assert "Unknown variable 'Snow'" in verdict


def test_inference_three_ways(client):
    spec = client.predict("sprinkler", api_name="/load_network")[0]
    summary, posterior, table, error_plot, elbo_plot = client.predict(
        spec, ["Rain"], "WetGrass=wet", 20_000, 3, api_name="/inference")
    assert "log P(evidence)" in summary
    rows = {r[0]: r for r in table["data"]}
    assert rows["yes"][1] == pytest.approx(0.7079, abs=1e-4)  # exact
    assert rows["yes"][2] == pytest.approx(0.7079, abs=0.02)  # likelihood weighting
    summary, *_ = client.predict(spec, ["Cloudy"], "Sprinkler=off, Rain=no, WetGrass=wet", 1000, 2, api_name="/inference")
    assert "probability zero" in summary
    summary, *_ = client.predict(spec, ["Rain"], "WetGrass=soaked", 1000, 2, api_name="/inference")
    assert "Unknown state 'soaked'" in summary


# ----------------------------------------------------------------------------------- VAE tab
def test_vae_decode_follows_the_sliders(client):
    import numpy as np
    from PIL import Image

    zeros = [0.0] * 10
    centre = np.asarray(Image.open(client.predict("vae-digits-beta1", *zeros, api_name="/vae_decode")))
    moved = np.asarray(Image.open(client.predict("vae-digits-beta1", 2.5, *zeros[1:], api_name="/vae_decode")))
    assert centre.shape[:2] == (168, 168) and np.abs(centre.astype(int) - moved.astype(int)).max() > 10
    # The same point decodes to the same picture as dgm_core does.
    import torch

    from dgm_core.checkpoints import load_checkpoint

    model = load_checkpoint("vae-digits-beta1").model
    expected = (model.decode_mean(torch.zeros(1, 10))[0, 0] * 255).round().detach().numpy()
    picture = centre if centre.ndim == 2 else centre[..., 0]
    assert np.abs(picture[::6, ::6].astype(float) - expected).max() <= 1


def test_vae_interpolation_traversal_and_bad_input(client):
    strip = client.predict("vae-digits-beta1", 0, 5, "spherical", api_name="/vae_interpolate")
    assert strip is not None
    grid = client.predict("vae-shapes-beta4", 3, api_name="/vae_traversal")
    assert grid is not None
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Test image numbers go from 0 to"):
        client.predict("vae-digits-beta1", 0, 100_000, "linear", api_name="/vae_interpolate")
    with pytest.raises(AppError, match="vae-nope is not in the list of choices"):
        client.predict("vae-nope", 0, 1, "linear", api_name="/vae_interpolate")


def test_vae_beta_comparison_reports_mig_on_shapes(client):
    table, *plots = client.predict("shapes", api_name="/vae_beta_comparison")
    rows = {r[1]: dict(zip(table["headers"], r)) for r in table["data"]}
    assert set(rows) == {"1", "4"}
    assert all(0 <= row["MIG"] <= 1 for row in rows.values())
    assert all(p is not None for p in plots)
    table, *_ = client.predict("digits", api_name="/vae_beta_comparison")
    assert all(r[table["headers"].index("MIG")] in (None, "") for r in table["data"])


# ---------------------------------------------------------------------------------- GAN tab
def test_gan_live_training_runs_the_three_models_together(client):
    *panels, losses, table = client.predict("8gaussians", 60, 20, 5, 0.01, 0.1, "non-saturating", 0,
                                            api_name="/gan_live")
    rows = {r[0]: dict(zip(table["headers"], r)) for r in table["data"]}
    assert set(rows) == {"GAN", "WGAN (clipping)", "WGAN-GP"} and all(r["steps"] == 60 for r in rows.values())
    assert all(p is not None for p in panels) and losses is not None
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Steps go from 1 to 5000"):
        client.predict("8gaussians", 10**6, 20, 5, 0.01, 0.1, "non-saturating", 0, api_name="/gan_live")
    with pytest.raises(AppError, match="settings cannot be used: n_critic"):
        client.predict("8gaussians", 10, 5, 0, 0.01, 0.1, "non-saturating", 0, api_name="/gan_live")


def test_gan_theory_samples_and_conditional_grid(client):
    text, densities, separation = client.predict(9.0, 1.0, api_name="/gan_theory")
    assert "JS = **0.693" in text and densities is not None and separation is not None
    grid, fid, histogram = client.predict("wgan-gp", 30, 0, api_name="/gan_samples")
    assert all(x is not None for x in (grid, fid, histogram))
    assert client.predict(0, api_name="/gan_conditional") is not None
