"""GAN objectives against hand computations, WGAN clipping and the gradient penalty, the live
2-D trainer, and mode coverage."""
import numpy as np
import pytest
import torch
from torch import nn

from dgm_core import gan
from dgm_core.data import toy_modes
from dgm_core.labs import gans as gans_lab


def test_discriminator_and_generator_losses_match_their_formulas():
    torch.manual_seed(0)
    real, fake = torch.randn(50), torch.randn(50)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(expected.item(), rel=1e-6)
    assert gan.generator_loss_saturating(fake).item() == pytest.approx(torch.log(1 - d_fake).mean().item(), rel=1e-6)
    assert gan.generator_loss_non_saturating(fake).item() == pytest.approx(-torch.log(d_fake).mean().item(), rel=1e-6)
    assert gan.critic_loss(real, fake).item() == pytest.approx((-real.mean() + fake.mean()).item(), rel=1e-6)
    assert gan.critic_generator_loss(fake).item() == pytest.approx(-fake.mean().item(), rel=1e-6)


def test_saturating_gradient_vanishes_where_the_non_saturating_one_does_not():
    """d/dl of the saturating loss is −σ(l); of the non-saturating loss −(1 − σ(l)) (per sample)."""
    logits = torch.tensor([-12.0, -4.0, 0.0, 4.0], requires_grad=True)
    saturating, = torch.autograd.grad(gan.generator_loss_saturating(logits) * 4, logits)
    non_saturating, = torch.autograd.grad(gan.generator_loss_non_saturating(logits) * 4, logits)
    assert torch.allclose(saturating, -torch.sigmoid(logits.detach()), atol=1e-7)
    assert torch.allclose(non_saturating, -(1 - torch.sigmoid(logits.detach())), atol=1e-7)
    assert abs(saturating[0]) < 1e-5 and abs(non_saturating[0]) > 0.99   # a confidently rejected fake


def test_gradient_penalty_equals_hand_computation_on_a_linear_critic():
    critic = nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, -2.0, 1.5]]))
    real, fake = torch.randn(64, 3), torch.randn(64, 3)
    # ∇_x (wᵀx + b) = w everywhere, so the penalty is (‖w‖ − 1)² whatever the interpolation.
    expected = (torch.tensor([0.6, -2.0, 1.5]).norm() - 1) ** 2
    assert gan.gradient_penalty(critic, real, fake).item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradient_penalty_on_a_quadratic_critic_uses_the_interpolates():
    class Square(nn.Module):
        def forward(self, x):
            return (x ** 2).sum(1, keepdim=True)

    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    eps = torch.rand(32, 1, generator=torch.Generator().manual_seed(5))
    mixed = eps * real + (1 - eps) * fake
    expected = ((2 * mixed).norm(dim=1) - 1).pow(2).mean()        # ∇ Σx² = 2x
    got = gan.gradient_penalty(Square(), real, fake, torch.Generator().manual_seed(5))
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    # It is differentiable with respect to the critic (create_graph), as training needs.
    critic = nn.Linear(2, 1)
    gan.gradient_penalty(critic, real, fake).backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_weight_clipping_keeps_every_critic_weight_within_the_clip():
    model = gan.ToyGAN(gan.default_config("wgan", clip=0.02, lr_critic=0.05))
    model.train(20)
    weights = torch.cat([p.detach().flatten() for p in model.critic.parameters()])
    assert weights.abs().max() <= 0.02 + 1e-9 and (weights.abs() == 0.02).any()


def test_same_seed_same_sizes_same_initial_generator_for_all_three():
    models = [gan.ToyGAN(gan.default_config(k)) for k in gan.KINDS]
    first = models[0].generator.state_dict()
    for m in models[1:]:
        assert all(torch.equal(first[k], v) for k, v in m.generator.state_dict().items())
        assert torch.equal(m.pool, models[0].pool)


def test_steps_record_losses_and_the_wasserstein_estimate():
    for kind in gan.KINDS:
        model = gan.ToyGAN(gan.default_config(kind))
        records = model.train(3)
        assert [r["step"] for r in records] == [1, 2, 3] and all(np.isfinite(r["loss_d"]) for r in records)
        assert ("wasserstein" in records[-1]) == (kind != "gan")


def test_critic_field_and_generator_gradient():
    model = gan.ToyGAN(gan.default_config("gan"))
    axis, values = model.critic_field(resolution=20)
    assert values.shape == (20, 20) and ((0 < values) & (values < 1)).all() and axis[0] == -3
    wgan = gan.ToyGAN(gan.default_config("wgan-gp"))
    points, push = wgan.generator_gradient(n=10)
    # For a critic, −∂L_G/∂x = ∂D/∂x: compare with central finite differences.
    h = 1e-6          # in float64; small enough that no point's stencil straddles a ReLU kink
    x = torch.tensor(points, dtype=torch.float64)
    critic = wgan.critic.double()
    for i in range(2):
        step = torch.zeros_like(x)
        step[:, i] = h
        with torch.no_grad():
            fd = (critic(x + step) - critic(x - step)).squeeze(1) / (2 * h)
        assert np.allclose(push[:, i], fd.numpy(), atol=1e-4)


def test_mode_coverage_counts_modes_and_high_quality_samples():
    centres, std = toy_modes("8gaussians")
    rng = np.random.default_rng(0)
    everywhere = centres[rng.integers(0, 8, 4000)] + std * rng.normal(size=(4000, 2))
    full = gan.mode_coverage(everywhere, "8gaussians")
    assert full["captured"] == 8 and full["high_quality"] > 0.97
    three = centres[rng.integers(0, 3, 3000)] + std * rng.normal(size=(3000, 2))
    assert gan.mode_coverage(three, "8gaussians")["captured"] == 3
    nothing = gan.mode_coverage(np.zeros((100, 2)), "8gaussians")
    assert {k: nothing[k] for k in ("modes", "captured", "high_quality")} == {"modes": 8, "captured": 0, "high_quality": 0.0}
    assert nothing["captured_loose"] == 0
    assert gan.mode_coverage(everywhere, "moons") is None
    # Points 0.3 from each centre (6σ): none within 3σ, all within the looser radius 0.5.
    near = centres[rng.integers(0, 8, 4000)] * (1 + 0.3 / 2)
    loose = gan.mode_coverage(near, "8gaussians")
    assert loose["captured"] == 0 and loose["captured_loose"] == 8 and loose["loose_radius"] == 0.5


@pytest.mark.parametrize("change, message", [
    ({"kind": "vae"}, "kind must be one of"),
    ({"lr_critic": -1.0}, "lr_critic must be a positive number"),
    ({"lr_generator": float("nan")}, "lr_generator must be a positive number"),
    ({"n_critic": 0}, "n_critic must be a whole number from 1 to 50"),
    ({"dataset": "donut"}, "Unknown 2-D distribution"),
    ({"clip": 0}, "clip must be a positive number"),
    ({"generator_loss": "hinge"}, "generator_loss must be"),
])
def test_bad_settings_are_refused_with_a_message(change, message):
    with pytest.raises(ValueError, match=message):
        gan.ToyGAN(gan.ToyGANConfig(**change))


# ------------------------------------------------------------------------ the 1-D theory
def test_optimal_discriminator_is_the_density_ratio():
    game = gan.GaussianGame(theta=1.5, sigma_g=0.7)
    x = np.linspace(-3, 4, 50)
    from scipy.stats import norm

    p_d, p_g = norm.pdf(x, 0, 1), norm.pdf(x, 1.5, 0.7)
    assert np.allclose(game.optimal_discriminator(x), p_d / (p_d + p_g), atol=1e-12)
    assert np.allclose(gan.GaussianGame(theta=0.0).optimal_discriminator(x), 0.5)


def test_js_divergence_against_scipy_and_its_log2_ceiling():
    from scipy.spatial.distance import jensenshannon

    for theta, sigma in ((0.0, 1.0), (1.0, 1.0), (2.5, 0.5)):
        game = gan.GaussianGame(theta, sigma)
        log_d, log_g = game.log_densities()
        p, q = np.exp(log_d), np.exp(log_g)
        assert game.js_divergence() == pytest.approx(jensenshannon(p, q) ** 2, abs=1e-6)   # natural log
    assert gan.GaussianGame(0.0).js_divergence() == pytest.approx(0.0, abs=1e-12)
    assert gan.GaussianGame(40.0).js_divergence() == pytest.approx(np.log(2), abs=1e-9)


def test_wasserstein_matches_closed_form_and_scipy():
    from scipy.stats import wasserstein_distance

    assert gan.GaussianGame(3.0).wasserstein() == pytest.approx(3.0, rel=1e-6)      # equal widths: |θ|
    assert gan.GaussianGame(40.0).wasserstein() == pytest.approx(40.0, rel=1e-6)    # still informative
    game = gan.GaussianGame(1.0, 2.0)
    log_d, log_g = game.log_densities()
    expected = wasserstein_distance(game.x, game.x, np.exp(log_d), np.exp(log_g))
    assert game.wasserstein() == pytest.approx(expected, rel=1e-3)


def _frozen_loss(game, shifted, kind):
    """The generator loss with p_g moved to `shifted` but D* frozen at the game's θ."""
    x, logit, sigma = game.x, game.optimal_logit(), game.sigma_g
    log_pg = -0.5 * ((x - shifted) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    # log(1 − D*) = −softplus(ℓ), −log D* = softplus(−ℓ)
    values = -np.logaddexp(0, logit) if kind == "saturating" else np.logaddexp(0, -logit)
    return np.trapezoid(np.exp(log_pg) * values, x)


def test_generator_gradients_match_finite_differences_and_saturate():
    for theta, sigma in ((1.0, 1.0), (3.0, 0.8)):
        game = gan.GaussianGame(theta, sigma)
        h = 1e-4
        grads = game.generator_gradients()
        for kind in ("saturating", "non-saturating"):
            fd = (_frozen_loss(game, theta + h, kind) - _frozen_loss(game, theta - h, kind)) / (2 * h)
            assert grads[kind] == pytest.approx(fd, rel=1e-4, abs=1e-9)
    near, far = gan.GaussianGame(1.0).generator_gradients(), gan.GaussianGame(12.0).generator_gradients()
    assert abs(near["saturating"]) > 0.2                                  # overlapping: both push
    assert abs(far["saturating"]) < 1e-6 * abs(far["non-saturating"]) and abs(far["non-saturating"]) > 11
    curves = gan.separation_curves(np.array([0.5, 2.0, 6.0, 12.0]))
    assert np.all(np.diff(curves["js"]) > 0) and curves["js"][-1] == pytest.approx(np.log(2), abs=1e-6)
    assert np.all(np.diff(curves["saturating"][1:]) < 0) and np.all(np.diff(curves["non_saturating"]) > 0)
    assert np.allclose(curves["wasserstein"], [0.5, 2.0, 6.0, 12.0], rtol=1e-6)


# ------------------------------------------------------------------------ image GANs
def test_image_models_have_the_dcgan_shapes_and_no_batch_norm_in_the_gp_critic():
    for kind in ("gan", "wgan", "wgan-gp", "cgan"):
        model = gan.ImageGAN(kind, num_classes=10 if kind == "cgan" else 0, width=8)
        images = model.sample(6)
        assert images.shape == (6, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
        norms = [m for m in model.discriminator.modules() if isinstance(m, nn.BatchNorm2d)]
        assert (len(norms) == 0) == (kind == "wgan-gp")
        kernels = {m.kernel_size for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))}
        assert kernels == {(4, 4)}
    with pytest.raises(ValueError, match="needs num_classes"):
        gan.ImageGAN("cgan")


def test_conditional_generator_and_feature_matching():
    model = gan.ImageGAN("cgan", num_classes=10, width=8)
    torch.manual_seed(0)
    real, labels = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    f = model.discriminator.features(real, labels)
    assert f.shape == (16, 16 * 7 * 7)
    assert gan.feature_matching_loss(f, f).item() == 0.0
    g = f + 0.5
    assert gan.feature_matching_loss(f, g).item() == pytest.approx(0.25 * f.shape[1], rel=1e-5)
    # The class changes what the generator draws.
    z = torch.randn(1, 100).repeat(2, 1)
    model.generator.eval()
    two = model.generator(z, torch.tensor([3, 7]))
    assert (two[0] - two[1]).abs().max() > 1e-4


def test_image_gan_steps_for_each_kind_and_clip_holds():
    torch.manual_seed(0)
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    for kind in ("gan", "wgan", "wgan-gp", "cgan"):
        model = gan.ImageGAN(kind, num_classes=10 if kind == "cgan" else 0, width=8)
        opt = gan.image_gan_optimizer(model, 1e-3)
        before = [p.detach().clone() for p in model.generator.parameters()]
        only_d = gan.image_gan_step(model, x, y, opt.generator, opt.discriminator, update_generator=False)
        assert "loss_g" not in only_d
        assert all(torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))
        both = gan.image_gan_step(model, x, y, opt.generator, opt.discriminator, update_generator=True)
        assert "loss_g" in both and ("feature_matching" in both) == (kind == "cgan")
        if kind == "wgan":
            assert max(p.abs().max().item() for p in model.discriminator.parameters()) <= 0.01 + 1e-9


def test_tiny_wgan_and_cgan_runs_with_snapshots_and_fid(tmp_path):
    import subprocess
    import sys

    from dgm_core.checkpoints import load_checkpoint
    from tests.conftest import ROOT

    for kind in ("wgan", "cgan"):
        out = tmp_path / kind
        result = subprocess.run(
            [sys.executable, "-m", "training.run", kind, "--epochs", "2", "--width", "8", "--sample-every", "1",
             "--fid-samples", "200", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        checkpoint = load_checkpoint(out, expected=gan.ImageGAN)
        assert [p.name for p in checkpoint.snapshots] == ["epoch-001.safetensors", "epoch-002.safetensors"]
        last = checkpoint.history["epochs"][-1]
        assert last["fid_classifier"] > 0 and sum(last["class_histogram"]) == 200
        assert ("label_accuracy" in last) == (kind == "cgan")
        # A snapshot is the generator's state (float16) that loads back into the generator.
        model = gan.load_snapshot(checkpoint.model, checkpoint.snapshots[-1])
        final = load_checkpoint(out, expected=gan.ImageGAN).model
        for key, value in final.generator.state_dict().items():
            assert torch.allclose(model.generator.state_dict()[key].float(), value.float(), atol=1e-2, rtol=1e-3)
    # torchrun runs the GAN recipes too: tests/test_training.py::test_two_process_ddp_gan_on_gloo_...


def test_matched_comparison_states_updates_seeds_and_spread():
    from pathlib import Path
    from types import SimpleNamespace

    def history(updates, step, fid, histogram, seconds):      # a checkpoint the comparison never measured
        return SimpleNamespace(path=Path(f"not-measured-{updates}-{step}-{fid}"), history={"epochs": [
            {"epoch": 1, "step": step, "generator_updates": updates, "seconds": seconds, "fid_classifier": fid,
             "class_histogram": histogram}]})

    fair = [100] * 10
    collapsed = [0, 0, 5, 195, 100, 100, 100, 100, 200, 200]     # two classes under 1 %, one at 0.5 %
    rows = gans_lab.matched_comparison({"gan": [history(50, 50, 200.0, fair, 10.0), history(50, 50, 220.0, fair, 12.0)],
                                   "wgan": [history(50, 250, 300.0, collapsed, 40.0)]})
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["gan"]["fid_mean"] == pytest.approx(210.0) and (by_kind["gan"]["fid_min"], by_kind["gan"]["fid_max"]) == (200.0, 220.0)
    assert by_kind["gan"]["seeds"] == 2 and by_kind["gan"]["seconds"] == pytest.approx(11.0)
    assert by_kind["gan"]["classes_dropped"] == 0 and by_kind["wgan"]["classes_dropped"] == 3
    assert by_kind["wgan"]["critic_updates"] == 250 and all(r["matched"] for r in rows)
    assert all(r["fid_source"].startswith("one draw at the last epoch of training") for r in rows)
    unmatched = gans_lab.matched_comparison({"gan": [history(50, 50, 1.0, fair, 1.0)], "wgan": [history(10, 50, 1.0, fair, 1.0)]})
    assert not any(r["matched"] for r in unmatched)


def test_the_shipped_image_gans_are_matched_at_generator_updates_with_two_seeds_each():
    """Issue 9: the WGANs had 276 generator updates against the GAN's 1,380; they are now trained to
    the same number, with two seeds, and the Fréchet distance's sampling spread is measured."""
    import json

    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.compare import RESULTS_DIR, RESULTS_NAME

    runs = gans_lab.image_gan_runs()
    assert set(runs) == {"gan", "wgan", "wgan-gp"}
    rows = gans_lab.matched_comparison({kind: [load_checkpoint(n) for n in names] for kind, names in runs.items()})
    assert all(r["seeds"] >= 2 and r["matched"] and r["generator_updates"] == 1380 for r in rows), rows
    assert {r["kind"]: r["critic_updates"] for r in rows} == {"gan": 1380, "wgan": 6900, "wgan-gp": 6900}
    # one measurement per checkpoint: the lab's distances are the comparison's, read from its file here
    written = {s["checkpoint"]: s for row in json.loads((RESULTS_DIR / RESULTS_NAME).read_text("utf-8"))["rows"]
               for s in row["per_seed"]}
    for r in rows:
        fds = [written[name]["fd"] for name in r["checkpoints"]]
        assert r["fid_mean"] == pytest.approx(np.mean(fds)) and (r["fid_min"], r["fid_max"]) == (min(fds), max(fds))
        assert r["fid_sampling_sd"] == pytest.approx(np.mean([np.std(written[n]["fd_draws"], ddof=1)
                                                               for n in r["checkpoints"]]))


def test_the_class_histogram_ticks_every_class():
    """The digits 0-9 were read as numbers and ticked at 0 and 5 only."""
    from dgm_core.figures.gan import class_histogram_figure

    history = {"epochs": [{"epoch": e, "generator_updates": 10 * e, "class_histogram": list(range(10))} for e in (1, 2)]}
    axis = class_histogram_figure(history, [str(d) for d in range(10)], "t").layout.xaxis
    assert axis.type == "category" and list(axis.tickvals) == [str(d) for d in range(10)]


@pytest.mark.parametrize("share, n", [(0.278, 1000), (0.1, 1000), (0.0, 200), (1.0, 50)])
def test_the_read_as_asked_interval_is_clopper_pearson_from_beta_quantiles(share, n):
    """The 95 % interval under the cGAN's grid, against the closed form: Beta(k, n − k + 1) and Beta(k + 1, n − k)
    quantiles at 2.5 % and 97.5 % (Clopper & Pearson, 1934)."""
    from scipy.stats import beta

    from dgm_core.labs.gans import read_as_asked_interval

    k = round(share * n)
    low = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    high = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    sentence = read_as_asked_interval(share, n)
    assert f"95 % interval {low:.1%}–{high:.1%} over the {n:,} samples; chance is 10%" == sentence
