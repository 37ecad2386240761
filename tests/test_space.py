"""The Gradio Space, launched on loopback and driven with gradio_client."""
import json

import numpy as np
import pytest
import torch

from dgm_core.checkpoints import load_checkpoint
from dgm_core.data import load_dataset
from dgm_core.figures.images import mosaic
from tests.conftest import plotly_json

pytestmark = pytest.mark.space


def heatmap_image(plot) -> np.ndarray:
    """The picture of an image grid figure: its one heatmap, top row first."""
    return np.asarray(plotly_json(plot)["data"][0]["z"], dtype=float)[::-1]


# The Bayesian-network tab is tested in test_space_bayesian_networks.py.


# ----------------------------------------------------------------------------------- VAE tab
def test_vae_decode_follows_the_sliders(client):
    import numpy as np
    from PIL import Image

    zeros = [0.0] * 10
    centre = np.asarray(Image.open(client.predict("vae-digits-beta1", *zeros, api_name="/vae_decode")[0]))
    moved = np.asarray(Image.open(client.predict("vae-digits-beta1", 2.5, *zeros[1:], api_name="/vae_decode")[0]))
    assert centre.shape[:2] == (168, 168) and np.abs(centre.astype(int) - moved.astype(int)).max() > 10
    # The same point decodes to the same picture as dgm_core does.
    import torch

    from dgm_core.checkpoints import load_checkpoint

    model = load_checkpoint("vae-digits-beta1").model
    expected = (model.decode_mean(torch.zeros(1, 10))[0, 0] * 255).round().detach().numpy()
    picture = centre if centre.ndim == 2 else centre[..., 0]
    assert np.abs(picture[::6, ::6].astype(float) - expected).max() <= 1


def test_vae_interpolation_traversal_and_bad_input(client):
    strip, message = client.predict("vae-digits-beta1", 0, 5, "spherical", api_name="/vae_interpolate")
    assert strip is not None and message == ""
    # The strip is A, μ(A) decoded, 10 points, μ(B) decoded, B: compare with the model itself.
    model = load_checkpoint("vae-digits-beta1").model
    images = load_dataset("digits", "test", model.image_size).images
    with torch.no_grad():
        mu, _ = model.encode((images[[0, 5]] > 0.5).float())
        ends = model.decode_mean(mu)
    expected = mosaic(torch.cat([images[:1], ends[:1], torch.zeros(10, 1, 28, 28), ends[1:], images[5:6]]), 14)
    shown = heatmap_image(strip)
    tile = slice(0, 28)
    for column in (0, 1, 12, 13):                # the two images and the decoded posterior means
        x = slice(column * 29, column * 29 + 28)
        assert np.abs(shown[tile, x] - expected[tile, x]).max() < 1e-5, column
    grid, message = client.predict("vae-shapes-beta4", 3, api_name="/vae_traversal")
    assert grid is not None and message == ""
    # Row r moves the r-th most informative dimension from −3 to +3 around z = 0.
    from dgm_core import vae

    shapes = load_checkpoint("vae-shapes-beta4").model
    dims = plotly_json(grid)["layout"]["yaxis"]["ticktext"]
    z = torch.zeros(9, shapes.latent_dim)
    z[:, int(dims[0].removeprefix("z"))] = torch.linspace(-3, 3, 9)
    with torch.no_grad():
        row = mosaic(shapes.decode_mean(z), 9)
    assert np.abs(heatmap_image(grid)[:row.shape[0]] - row).max() < 1e-5
    test_shapes = load_dataset("shapes", "test", shapes.image_size, n=1000).images[:1000]
    assert dims == [f"z{d}" for d in vae.latent_report(shapes, test_shapes, None).dims_by_kl]
    from gradio_client.exceptions import AppError

    # wrong boxes: the message beside the button; the strip of the last run stays (no output is sent)
    _, message = client.predict("vae-digits-beta1", 0, 100_000, "linear", api_name="/vae_interpolate")
    assert "second test image: enter a whole number from 0 to 358; got 100,000" in message
    _, message = client.predict("vae-digits-beta1", None, 1, "linear", api_name="/vae_interpolate")
    assert "first test image: the box is empty" in message                        # was a bare "Error"
    with pytest.raises(AppError, match="vae-nope is not in the list of choices"):   # Gradio checks the dropdown
        client.predict("vae-nope", 0, 1, "linear", api_name="/vae_interpolate")


def test_vae_beta_comparison_reports_mig_on_shapes(client):
    table, summary, note, *plots, message = client.predict("shapes", api_name="/vae_beta_comparison")
    assert message == "" and "training seed" in note
    assert [r[0] for r in summary["data"]] == ["1", "4"]             # each β over its seeds
    rows = {r[1]: dict(zip(table["headers"], r)) for r in table["data"]}
    assert set(rows) == {"1", "4"}
    assert all(0 <= row["MIG"] <= 1 for row in rows.values())
    assert all(p is not None for p in plots)
    # The KL bars are the closed-form KL per dimension of each checkpoint on the first 1,000 test images.
    bars = {t["name"]: np.asarray(t["y"], dtype=float) for t in plotly_json(plots[1])["data"]}
    for beta in (1, 4):
        model = load_checkpoint(f"vae-shapes-beta{beta}").model
        images = load_dataset("shapes", "test", model.image_size, n=1000).images[:1000]
        with torch.no_grad():
            mu, logvar = model.encode((images > 0.5).float())
        kl = (0.5 * (mu ** 2 + logvar.exp() - logvar - 1)).mean(0).numpy()
        assert np.allclose(bars[f"β = {beta}"], kl, atol=1e-4)
    table, *_ = client.predict("digits", api_name="/vae_beta_comparison")
    assert all(r[table["headers"].index("MIG")] in (None, "") for r in table["data"])


def test_the_beta_table_is_the_same_on_the_page_and_in_the_space(client):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    table, *_ = client.predict("shapes", api_name="/vae_beta_comparison")
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("labs/vae.py").run()
    next(s for s in at.selectbox if s.key == "vae_dataset").set_value("shapes").run()
    page = next(d.value for d in at.dataframe if list(d.value.columns)[:2] == ["checkpoint", "β"])
    space = [dict(zip(table["headers"], row)) for row in table["data"]]
    assert [str(v) for v in page["checkpoint"]] == [r["checkpoint"] for r in space]
    for column in ("test ELBO", "KL", "active units", "MIG"):
        np.testing.assert_allclose(page[column].astype(float), [float(r[column]) for r in space], rtol=1e-6)


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
    # wrong boxes: the message beside the buttons, the figures of the last run kept
    *_, status = client.predict("8gaussians", 10**6, 20, 5, 0.01, 0.1, "non-saturating", 0, api_name="/gan_live")
    assert "steps: enter a whole number from 1 to 5,000; got 1,000,000" in status and status.startswith("**Not run:**")
    *_, status = client.predict("8gaussians", 10, 5, 0, 0.01, 0.1, "non-saturating", 0, api_name="/gan_live")
    assert "n_critic (WGANs): enter a whole number from 1 to 50; got 0" in status


def test_gan_theory_samples_and_conditional_grid(client):
    from scipy.stats import norm

    text, densities, separation = client.predict(9.0, 1.0, api_name="/gan_theory")
    assert "JS = **0.693" in text and densities is not None and separation is not None
    traces = {t["name"]: t for t in plotly_json(densities)["data"]}
    x = np.asarray(traces["p_data"]["x"], dtype=float)
    assert np.allclose(traces["p_data"]["y"], norm.pdf(x), atol=1e-9)
    assert np.allclose(traces["p_g"]["y"], norm.pdf(x, 9.0, 1.0), atol=1e-9)
    curves = {t["name"]: t for t in plotly_json(separation)["data"]}
    shift = np.asarray(curves["W₁(p_data, p_g)"]["x"], dtype=float)
    assert np.allclose(curves["W₁(p_data, p_g)"]["y"], shift, atol=1e-6)          # equal widths: W₁ = |θ|
    js = np.asarray(curves["JS(p_data ‖ p_g)"]["y"], dtype=float)
    assert js[0] == pytest.approx(0, abs=1e-6) and js[-1] == pytest.approx(np.log(2), abs=1e-3)
    grid, fid, histogram, _ = client.predict("wgan-gp", 30, 0, api_name="/gan_samples")
    assert all(x is not None for x in (grid, fid, histogram))
    # The samples are the snapshot's, as dgm_core draws them.
    from dgm_core import gan
    from dgm_core.labs.gans import image_gan_runs

    checkpoint = load_checkpoint(image_gan_runs()["wgan-gp"][0])
    snapshot = min(checkpoint.snapshots, key=lambda p: abs(int(p.stem.split("-")[1]) - 30))
    expected = mosaic(gan.snapshot_model(checkpoint, snapshot).sample(64, seed=0), 8)
    assert np.abs(heatmap_image(grid) - expected).max() < 1e-5
    answer = client.predict(0, api_name="/gan_conditional")
    assert answer[0] is not None
    from dgm_core.labs import gans as gans_lab
    assert answer[1] == gans_lab.conditional_caption(load_checkpoint("cgan-digits"))   # the page's one call
    cgan = load_checkpoint("cgan-digits").model
    assert np.abs(heatmap_image(client.predict(3, api_name="/gan_conditional")[0])
                  - mosaic(gan.class_grid(cgan, seed=3), 8)).max() < 1e-5


def test_gan_fid_chart_has_the_real_vs_real_floor_and_every_seed(client):
    """The Space's chart had no floor while the page's had one: both now draw what dgm_core measures.
    The floor is recomputed here with scipy's sqrtm on the classifier's features."""
    from scipy import linalg

    from dgm_core.catalogue import JUDGE
    from dgm_core.features import classifier_features
    from dgm_core.labs.gans import image_gan_runs

    judge = load_checkpoint(JUDGE).model
    real = [classifier_features(judge, load_dataset("digits", split, 28).images) for split in ("train", "test")]
    (m1, c1), (m2, c2) = [(f.mean(0), np.cov(f, rowvar=False)) for f in real]
    floor = float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real))
    _, fid, _, _ = client.predict("gan", 60, 0, api_name="/gan_samples")
    figure = plotly_json(fid)
    label = next(a["text"] for a in figure["layout"]["annotations"] if "real vs real" in a["text"])
    assert float(label.rsplit(": ", 1)[1]) == pytest.approx(floor, abs=0.06)
    runs = image_gan_runs()
    assert all(len(names) >= 2 for names in runs.values())           # more than one training seed each
    means = {t["name"]: np.asarray(t["y"], dtype=float) for t in figure["data"] if t.get("showlegend") is not False}
    for kind, title in (("gan", "GAN"), ("wgan", "WGAN (clipping)"), ("wgan-gp", "WGAN-GP")):
        histories = [load_checkpoint(name).history["epochs"] for name in runs[kind]]
        expected = np.mean([[e["fid_classifier"] for e in h] for h in histories], axis=0)
        assert np.allclose(means[title], expected, rtol=1e-9)


def test_gan_live_trains_on_an_uploaded_csv_and_refuses_bad_files(client, tmp_path):
    from gradio_client import handle_file

    angle = np.linspace(0, 2 * np.pi, 300, endpoint=False)
    good = tmp_path / "circle.csv"
    good.write_text("x,y\n" + "".join(f"{100 + 20 * np.cos(a):.4f},{50 + 20 * np.sin(a):.4f}\n" for a in angle))
    *panels, losses, table, status = client.predict("your own points (CSV)", 20, 20, 5, 0.1, 0.1, "non-saturating", 0,
                                                    handle_file(str(good)), None, api_name="/gan_live")
    assert "circle.csv (300 points)" in status and "scaled by" in status
    real = next(t for t in plotly_json(panels[0])["data"] if t.get("name") == "real data")
    radius = np.hypot(np.asarray(real["x"], dtype=float), np.asarray(real["y"], dtype=float))
    assert np.allclose(radius, 2.5, atol=1e-3)                 # the uploaded circle, scaled into the toys' square
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    *_, status = client.predict("your own points (CSV)", 20, 20, 5, 0.1, 0.1, "non-saturating", 0,
                                handle_file(str(bad)), None, api_name="/gan_live")
    assert "This data cannot be used: bad.csv: row 3 has 'oops', which is not a number" in status
    *_, status = client.predict("your own points (CSV)", 20, 20, 5, 0.1, 0.1, "non-saturating", 0, None, None,
                                api_name="/gan_live")
    assert "no file is uploaded" in status


def test_an_upload_past_the_limit_is_refused_by_the_server_as_it_arrives(client, space_url, tmp_path):
    """The Space's server took uploads of any size and the handler refused them once they had arrived;
    now Gradio's own limit (launch(max_file_size=...)) refuses them while they arrive, and says the limit.
    Checked on the upload route itself (gradio_client also refuses before sending, from the same limit)."""
    import httpx
    from gradio_client import handle_file

    from space.live import MAX_UPLOAD_BYTES

    big = tmp_path / "big.csv"
    big.write_bytes(b"x,y\n" + b"1.000000,2.000000\n" * (MAX_UPLOAD_BYTES // 18 + 100))
    assert big.stat().st_size > MAX_UPLOAD_BYTES
    answer = httpx.post(f"{space_url}gradio_api/upload", files={"files": ("big.csv", big.read_bytes(), "text/csv")},
                        timeout=60)
    assert answer.status_code == 413 and f"maximum allowed size of {MAX_UPLOAD_BYTES} bytes" in answer.text
    small = tmp_path / "small.csv"
    small.write_bytes(b"x,y\n" + b"".join(f"{i % 7},{i % 5}\n".encode() for i in range(50)))
    assert httpx.post(f"{space_url}gradio_api/upload", files={"files": ("small.csv", small.read_bytes(), "text/csv")},
                      timeout=60).status_code == 200
    with pytest.raises(Exception, match=f"exceeds the maximum file size of {MAX_UPLOAD_BYTES} bytes"):
        client.predict("your own points (CSV)", 20, 20, 5, 0.1, 0.1, "non-saturating", 0, handle_file(str(big)), None,
                       api_name="/gan_live")


def test_a_slow_first_answer_starts_the_space_again_instead_of_ending_it():
    """Gradio's launch raises "When localhost is not accessible" when its own first request to the new server takes
    more than 3 s (a busy machine); the Space closes that server and starts again. Any other error still raises."""
    from space.app import launch_patiently

    class Demo:
        def __init__(self, failures, message="When localhost is not accessible, a shareable link must be created."):
            self.failures, self.message, self.launched, self.closed = failures, message, 0, 0

        def launch(self, **options):
            self.launched += 1
            if self.launched <= self.failures:
                raise ValueError(self.message)

        def close(self):
            self.closed += 1

    slow = Demo(failures=2)
    launch_patiently(slow, server_port=1)
    assert (slow.launched, slow.closed) == (3, 2)
    with pytest.raises(ValueError, match="localhost"):
        launch_patiently(Demo(failures=3))
    other = Demo(failures=1, message="something else")
    with pytest.raises(ValueError, match="something else"):
        launch_patiently(other)
    assert other.launched == 1
