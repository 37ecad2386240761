"""The Gradio Space, launched on loopback and driven with gradio_client."""
import json

import pytest

pytestmark = pytest.mark.space


# The Bayesian-network tab is tested in test_space_bayesian_networks.py.


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

    with pytest.raises(AppError, match="second test image: enter a whole number from 0 to 358; got 100,000"):
        client.predict("vae-digits-beta1", 0, 100_000, "linear", api_name="/vae_interpolate")
    with pytest.raises(AppError, match="first test image: the box is empty"):      # was a bare "Error"
        client.predict("vae-digits-beta1", None, 1, "linear", api_name="/vae_interpolate")
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
    *panels, losses, table, status = client.predict("8gaussians", 60, 20, 5, 0.01, 0.1, "non-saturating", 0,
                                                    api_name="/gan_live")
    rows = {r[0]: dict(zip(table["headers"], r)) for r in table["data"]}
    assert set(rows) == {"GAN", "WGAN (clipping)", "WGAN-GP"} and all(r["steps"] == 60 for r in rows.values())
    assert "step **60**" in status and "steps/s" in status
    titles = [json.loads(p["plot"])["layout"]["title"]["text"] for p in panels]
    assert titles == ["GAN · step 60", "WGAN (clipping) · step 60", "WGAN-GP · step 60"]
    assert [t["name"] for t in json.loads(losses["plot"])["data"] if t.get("showlegend", True)] == \
        ["GAN", "WGAN (clipping)", "WGAN-GP"]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="steps: enter a whole number from 1 to 5,000; got 1,000,000"):
        client.predict("8gaussians", 10**6, 20, 5, 0.01, 0.1, "non-saturating", 0, api_name="/gan_live")
    with pytest.raises(AppError, match=r"n_critic \(WGANs\): enter a whole number from 1 to 50; got 0"):
        client.predict("8gaussians", 10, 5, 0, 0.01, 0.1, "non-saturating", 0, api_name="/gan_live")


def test_gan_theory_samples_and_conditional_grid(client):
    text, densities, separation = client.predict(9.0, 1.0, api_name="/gan_theory")
    assert "JS = **0.693" in text and densities is not None and separation is not None
    grid, fid, histogram = client.predict("wgan-gp", 30, 0, api_name="/gan_samples")
    assert all(x is not None for x in (grid, fid, histogram))
    assert client.predict(0, api_name="/gan_conditional") is not None
