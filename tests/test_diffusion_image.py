"""The diffusion family's image model (dgm_core.diffusion.image) and its recipes: the dequantized likelihood
against a closed form, the guidance and the labels, the deterministic encode and decode, and a trainer run."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from dgm_core.checkpoints import load_checkpoint
from dgm_core.data import load_dataset
from dgm_core.diffusion.image import DiffusionModel


def _zero_velocity_model(kind="flow"):
    """A fresh model: its output layer starts at zero, so its velocity (or ε̂) is 0 everywhere."""
    return DiffusionModel(kind=kind, width=16, blocks=1, sampler_calls=10)


def test_the_likelihood_of_a_zero_velocity_flow_is_the_gaussians_probability_of_each_bin():
    """v = 0 carries N(0, I) to itself, so P(k) = Π_d [Φ(2(k_d + 1)/L − 1) − Φ(2 k_d/L − 1)] (scipy), which the
    importance-weighted estimate approaches from below."""
    model = _zero_velocity_model()
    images = load_dataset("digits", "test", 8).images[:4]
    k = torch.round(images * 16).numpy().reshape(4, -1)
    exact = np.log(norm.cdf(2 * (k + 1) / 17 - 1) - norm.cdf(2 * k / 17 - 1)).sum(1)
    exact_bits = -exact / (64 * math.log(2))
    result = model.likelihood_of(images, torch.Generator().manual_seed(0), importance=16)
    assert result.quantisation.levels == 17 and result.quantisation.side == 8
    # a bound in expectation (one draw of it may fall a little either side), tight here: the density is nearly
    # flat across a bin 2/17 wide
    assert np.allclose(result.bits_per_dim.numpy(), exact_bits, atol=0.01)
    assert result.bits_per_dim.mean().item() >= exact_bits.mean() - 0.002


def test_ddpms_likelihood_with_a_zero_network_is_the_bin_probability_of_the_gaussian_its_ode_implies():
    """With ε̂ = 0 the probability-flow ODE is dx/dλ = −(1 − ᾱ) x, which shrinks x by s = √(ᾱ(σ̄_max)/ᾱ(σ̄_min))
    from the data end to σ̄_max: the model's x is N(0, I/s²), so P(k) is that Gaussian's mass on each bin (scipy)."""
    model = _zero_velocity_model("ddpm")
    images = load_dataset("digits", "test", 8).images[:4]
    k = torch.round(images * 16).numpy().reshape(4, -1)
    a0 = float(model.schedule.alpha_bar(0))
    sd = math.sqrt((1 + model.SIGMA_MAX ** 2) * a0)          # 1/s, with ᾱ = 1/(1 + σ̄²)
    exact = np.log(norm.cdf((2 * (k + 1) / 17 - 1) / sd) - norm.cdf((2 * k / 17 - 1) / sd)).sum(1)
    result = model.likelihood_of(images, torch.Generator().manual_seed(0), importance=2)
    assert np.allclose(result.bits_per_dim.numpy(), -exact / (64 * math.log(2)), atol=0.01)
    assert "probability-flow" in result.estimator


def test_ddpms_ode_asks_the_network_at_the_time_index_of_each_noise_level():
    """The continuous cosine schedule's time of ᾱ_t is the index t the network was trained with (c = t/T)."""
    model = _zero_velocity_model("ddpm")
    seen = []
    model.predict = lambda x, c, labels, guidance=0.0: seen.append(c.clone()) or torch.zeros_like(x)
    velocity = model.likelihood_velocity()
    a0 = float(model.schedule.alpha_bar(0))
    top, bottom = math.log(model.SIGMA_MAX), 0.5 * math.log((1 - a0) / a0)
    for index in (0, 37, 500, 980):
        a = float(model.schedule.alpha_bar(index))
        lam = 0.5 * math.log((1 - a) / a)
        velocity(torch.zeros(1, 1, 8, 8, dtype=torch.float64), torch.tensor([(top - lam) / (top - bottom)], dtype=torch.float64))
        assert seen[-1].item() == pytest.approx(index / 1000, abs=1e-6)


def test_samples_are_images_on_the_datas_levels_and_labels_steer_them():
    model = _zero_velocity_model("ddpm")
    samples = model.sample(5, torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    assert torch.allclose(samples * 16, torch.round(samples * 16))            # 17 levels
    torch.nn.init.normal_(model.net.out.weight, std=0.1)                       # a network that answers something
    x, c = torch.randn(4, 1, 8, 8), torch.full((4,), 0.5)
    labels = torch.tensor([1, 2, 3, 4])
    conditional, empty = model.predict(x, c, labels), model.predict(x, c, None)
    assert torch.allclose(model.predict(x, c, labels, guidance=2.0), 3 * conditional - 2 * empty, atol=1e-6)
    assert not torch.allclose(conditional, empty)


@pytest.mark.parametrize("kind", ["flow", "ddpm"])
def test_encode_then_decode_of_the_identity_model_gives_back_the_image(kind):
    """With a zero network the flow is the identity, and DDIM's inversion and sampling are each other's
    inverse up to the levels' centres: a digit comes back as itself."""
    model = _zero_velocity_model(kind)
    images = load_dataset("digits", "test", 8).images[:3]
    again = model.decode(model.encode(images))
    assert torch.allclose(again, torch.round(images * 16) / 16, atol=1e-6)
    path = model.interpolate(images[:2], 5, torch.Generator())
    assert path.images.shape == (5, 1, 8, 8)


@pytest.mark.parametrize("recipe, extra", [("ddpm", []), ("flow-matching", ["--coupling", "ot"])])
def test_the_trainers_run_and_their_checkpoints_sample(recipe, extra, tmp_path):
    from training.run import main as train

    out = tmp_path / recipe
    assert train([recipe, "--epochs", "1", "--width", "16", "--blocks", "1", "--sampler-calls", "5",
                  "--sample-every", "1", "--fd-calls", "2,4", "--fd-ddpm-calls", "", "--out", str(out), *extra]) == 0
    checkpoint = load_checkpoint(out)
    curve = checkpoint.history["fd_by_calls"]
    samplers = {"ddpm": ["DDPM ancestral", "DDIM"], "flow-matching": ["Euler", "Heun"]}[recipe]
    assert [(r["sampler"], r["model calls"]) for r in curve["rows"]] == [(s, c) for s in samplers for c in (2, 4)]
    assert all(r["fd"] > curve["floor"] and r["draws"] == 2 and r["samples"] == 1000 for r in curve["rows"])
    assert checkpoint.model.kind == ("ddpm" if recipe == "ddpm" else "flow")
    assert np.isfinite(checkpoint.history["epochs"][-1]["test_loss"])
    assert checkpoint.model.sample(2, torch.Generator().manual_seed(0)).shape == (2, 1, 8, 8)


@pytest.mark.parametrize("kind, sampler, budget", [("ddpm", "DDPM ancestral", 7), ("ddpm", "DDIM", 7),
                                                   ("ddpm", "DDIM", 1500), ("flow", "Euler", 7), ("flow", "Heun", 7)])
def test_each_sampler_makes_the_model_calls_it_says(kind, sampler, budget):
    """A count, not a time: the network is called exactly `calls(sampler, budget)` times per sample."""
    model = _zero_velocity_model(kind)
    counted = []
    forward = model.net.forward
    model.net.forward = lambda *args: counted.append(1) or forward(*args)
    model.sample(3, torch.Generator().manual_seed(0), calls=budget, sampler=sampler)
    assert len(counted) == model.calls(sampler, budget) == {("DDPM ancestral", 7): 7, ("DDIM", 7): 7, ("DDIM", 1500): 1000,
                                                            ("Euler", 7): 7, ("Heun", 7): 6}[(sampler, budget)]
    with pytest.raises(ValueError, match="samples by"):
        model.sample(1, torch.Generator(), sampler="annealed Langevin")


@pytest.mark.slow
@pytest.mark.parametrize("recipe, extra", [("ddpm", []), ("flow-matching", ["--coupling", "ot"])])
def test_a_run_killed_mid_epoch_resumes_to_the_same_weights(recipe, extra, tmp_path):
    from tests.test_training import killed_and_resumed

    # 12 steps per epoch: step 17 is in the middle of the second epoch. One thread, as the energy test: oneDNN's
    # convolution backward may sum in another order on two.
    killed_and_resumed([recipe, "--epochs", "3", "--width", "16", "--blocks", "1", "--sampler-calls", "5",
                        "--fd-calls", "", *extra], tmp_path, env={"OMP_NUM_THREADS": "1"})


def test_a_sample_of_the_model_draws_its_classes_in_turn_and_unconditional_asks_for_no_label():
    """The protocol's sample is p(x) = Σ_y p(y) p(x | y) over the balanced digit classes, as the cGAN's; the "no
    label" branch (trained on label_dropout of the batches) only when asked for."""
    model = _zero_velocity_model("flow")
    seen = []
    forward = model.net.forward
    model.net.forward = lambda x, c, labels: seen.append(labels.clone()) or forward(x, c, labels)
    model.sample(25, torch.Generator().manual_seed(0), calls=2, guidance=3.0)
    assert all(torch.equal(labels, torch.arange(25) % 10) for labels in seen) and len(seen) == 2   # and no guidance
    seen.clear()
    model.sample(5, torch.Generator().manual_seed(0), calls=2, unconditional=True)
    assert all(torch.equal(labels, torch.full((5,), 10)) for labels in seen)
    assert "the classes 0–9 in turn" in model.sampling_note()


def test_the_u_net_sees_the_whole_28x28_image_and_the_flat_net_does_not():
    """With scales = 3 the prediction at the top-left pixel depends on the bottom-right one (autograd through
    the 7x7 level), as a model of whole 28x28 digits needs; the flat net of the 8x8 digits (six 3x3
    convolutions, a 13x13 field) cannot see that far. Both keep the image's shape. The group norms are taken
    out first: their mean and variance over the whole image let every pixel touch every other a little, which
    is not the reach of the convolutions."""
    for scales, sees in ((3, True), (1, False)):
        torch.manual_seed(0)
        model = DiffusionModel(kind="ddpm", image_size=28, levels=256, width=8, blocks=2, scales=scales)
        for module in model.net.modules():
            for child_name, child in module.named_children():
                if isinstance(child, torch.nn.GroupNorm):
                    setattr(module, child_name, torch.nn.Identity())
        for p in model.net.out.parameters():           # the output layer starts at zero: give it weights
            torch.nn.init.normal_(p, std=0.1)
        x = torch.randn(2, 1, 28, 28, requires_grad=True)
        out = model.net(x, torch.tensor([0.5, 0.5]), torch.tensor([3, 10]))
        assert out.shape == x.shape
        out[0, 0, 0, 0].backward()
        assert (x.grad[0, 0, 27, 27].abs() > 0).item() is sees
        assert x.grad[1].abs().sum().item() == 0            # images of a batch do not see each other


def test_the_flat_nets_weights_keep_their_names_so_the_shipped_8x8_checkpoints_load():
    names = set(DiffusionModel(width=16, blocks=1).state_dict())
    assert "net.blocks.0.conv1.weight" in names and not any(n.startswith("net.down") for n in names)
