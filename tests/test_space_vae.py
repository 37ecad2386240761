"""The Space's VAE sliders, driven with gradio_client: the same order as the page (latent dimensions by
their KL, most informative first), from the same dgm_core call, checked against an independent
computation of the KL per dimension from the checkpoint and its test images."""
import numpy as np
import pytest
import torch

from dgm_core.checkpoints import load_checkpoint
from dgm_core.data import load_dataset

pytestmark = pytest.mark.space



def kl_order(name: str, dataset: str) -> tuple[list[int], np.ndarray]:
    """Dimensions by decreasing KL(q(z_j|x) ‖ N(0, 1)) averaged over the first 1000 test images,
    computed here from the encoder with the closed form ½(μ² + σ² − log σ² − 1)."""
    model = load_checkpoint(name).model
    options = {"n": 1000} if dataset == "shapes" else {}
    images = load_dataset(dataset, "test", model.image_size, **options).images[:1000]
    with torch.no_grad():
        mu, logvar = model.encode((images > 0.5).float())
    kl = (0.5 * (mu ** 2 + logvar.exp() - logvar - 1)).mean(0).numpy()
    return list(np.argsort(-kl, kind="stable")), kl


def picture(path) -> np.ndarray:
    from PIL import Image

    image = np.asarray(Image.open(path)).astype(float)
    return image if image.ndim == 2 else image[..., 0]


@pytest.mark.parametrize("name, dataset", [("vae-digits-beta1", "digits"), ("vae-shapes-beta4", "shapes")])
def test_the_first_slider_moves_the_most_informative_latent(client, name, dataset):
    order, _ = kl_order(name, dataset)
    assert order[0] != 0                     # otherwise this test could not tell the orders apart
    moved = picture(client.predict(name, 2.5, *[0.0] * 9, api_name="/vae_decode")[0])
    model = load_checkpoint(name).model
    z = torch.zeros(1, model.latent_dim)
    z[0, order[0]] = 2.5
    with torch.no_grad():
        expected = (model.decode_mean(z)[0, 0] * 255).round().numpy()
    assert np.abs(moved[::6, ::6] - expected).max() <= 1


@pytest.mark.parametrize("name, dataset", [("vae-digits-beta1", "digits"), ("vae-shapes-beta4", "shapes")])
def test_slider_labels_follow_the_kl_order_of_the_chosen_checkpoint(client, name, dataset):
    order, kl = kl_order(name, dataset)
    *updates, message = client.predict(name, api_name="/vae_sliders")
    assert message == ""
    labels = [u["label"] for u in updates]
    assert labels == [f"z{d} · KL {kl[d]:.2f} nats" for d in order]
    assert all(u["value"] == 0 for u in updates)


def test_the_beta_tab_follows_the_dataset_of_the_checkpoint_chosen_at_the_top(space_demo):
    """A student chose vae-mnist-5k-beta1 at the top and was shown the digits' β table below it."""
    import json

    from dgm_core.checkpoints import CHECKPOINT_DIR
    from space.vae import dataset_of_checkpoint, vae_names

    for name in vae_names():
        recorded = json.loads((CHECKPOINT_DIR / name / "history.json").read_text())["run"]["dataset"]
        assert dataset_of_checkpoint(name) == recorded, name
    wired = [d for d in space_demo.fns.values() if getattr(d.fn, "__name__", "") == "dataset_of_checkpoint"]
    assert len(wired) == 1
    (source,) = [space_demo.blocks[t[0]] for t in wired[0].targets]
    assert source.label == "Checkpoint" and "vae-mnist-5k-beta1" in [c[0] for c in source.choices]
    assert [space_demo.blocks[o._id].label for o in wired[0].outputs] == ["dataset"]
