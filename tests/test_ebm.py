"""Energy-based models (dgm_core/ebm.py) against independent oracles: SGLD on energies with known
moments, the buffer's exact reuse share, the noise schedule's closed form, JEM's energy against
scipy's logsumexp, the informative init's statistics against numpy, and the divergence guard."""
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from dgm_core import ebm
from dgm_core.labs import energy as energy_lab


def _proper(steps: int, eps: float) -> ebm.SGLD:
    """The unadjusted Langevin algorithm: σ = √(2ε), no clipping, no clamping."""
    return ebm.SGLD(steps=steps, step_size=eps, sigma_start=math.sqrt(2 * eps), sigma_end=math.sqrt(2 * eps),
                    grad_clip=None, clamp=None)


def test_sgld_samples_a_gaussian_with_its_mean_and_variance():
    mu, s = 1.5, 0.8
    energy = lambda x, y=None: 0.5 * ((x[:, 0] - mu) / s) ** 2  # noqa: E731
    g = torch.Generator().manual_seed(0)
    n = 4000
    x, _, _ = _proper(1500, 0.005).run(energy, torch.zeros(n, 1), g)
    x = x[:, 0].double()
    assert abs(float(x.mean()) - mu) < 3 * s / math.sqrt(n)
    se_var = s ** 2 * math.sqrt(2 / (n - 1))
    assert abs(float(x.var()) - s ** 2) < 3 * se_var + 0.01      # + the O(ε) bias of the unadjusted chain


def test_sgld_samples_a_two_mode_mixture_with_its_mean_and_variance():
    """½ N(−1.5, 0.7²) + ½ N(1.5, 0.7²): mean 0, variance 1.5² + 0.7² = 2.74."""
    m, s = 1.5, 0.7

    def energy(x, y=None):
        z = x[:, 0]
        return -torch.logaddexp(-0.5 * ((z - m) / s) ** 2, -0.5 * ((z + m) / s) ** 2)

    g = torch.Generator().manual_seed(1)
    n = 4000
    start = torch.rand(n, 1, generator=g) * 8 - 4
    x, _, _ = _proper(3000, 0.005).run(energy, start, g)
    x = x[:, 0].double()
    var = m ** 2 + s ** 2
    assert abs(float(x.mean())) < 3 * math.sqrt(var / n)
    assert abs(float(x.var()) - var) < 3 * var * math.sqrt(2 / (n - 1)) + 0.03


def test_the_noise_schedule_is_geometric_from_start_to_end():
    sampler = ebm.SGLD(steps=11, sigma_start=0.1, sigma_end=0.001)
    sigmas = [sampler.sigma(t) for t in range(11)]
    assert sigmas[0] == pytest.approx(0.1) and sigmas[-1] == pytest.approx(0.001)
    ratios = np.array(sigmas[1:]) / np.array(sigmas[:-1])
    assert np.allclose(ratios, 0.01 ** 0.1)
    with pytest.raises(ValueError, match="both ends"):
        ebm.SGLD(sigma_start=0.0, sigma_end=0.1)


def test_the_sampler_returns_its_trajectory_and_leaves_the_global_rng_alone():
    energy = lambda x, y=None: (x ** 2).flatten(1).sum(1)  # noqa: E731
    state = torch.random.get_rng_state()
    x, states, energies = ebm.SGLD(steps=4).run(energy, torch.full((3, 2), 0.5), torch.Generator().manual_seed(0),
                                                trajectory=True)
    assert torch.equal(state, torch.random.get_rng_state())
    assert len(states) == 5 and len(energies) == 4 and torch.equal(states[-1], x)
    assert float(energies[-1].mean()) < float(energies[0].mean())


def test_the_buffer_reuses_exactly_95_percent_of_each_batch():
    fresh = lambda n, g=None: torch.rand(n, 1, 2, 2, generator=g)  # noqa: E731   (values in [0, 1))
    buffer = ebm.ReplayBuffer(500, (1, 2, 2), fresh)
    buffer.samples.fill_(7.0)                                           # mark every stored chain
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        x, index = buffer.sample(100, g)
        reused = (x == 7.0).flatten(1).all(1)
        assert int(reused.sum()) == 95
    buffer.push(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 2]))
    assert torch.all(buffer.samples[:3] == 0) and torch.all(buffer.samples[3:] == 7.0)


def test_a_class_buffer_draws_each_start_from_its_labels_block():
    fresh = lambda n, g=None: torch.zeros(n, 1, 1, 1)  # noqa: E731
    buffer = ebm.ReplayBuffer(100, (1, 1, 1), fresh, reinit=0.0, num_classes=10)
    buffer.samples = torch.arange(100, dtype=torch.float32).view(100, 1, 1, 1)   # entry i holds i
    y = torch.tensor([0, 3, 9, 9])
    x, index = buffer.sample(4, torch.Generator().manual_seed(0), y=y)
    assert torch.equal(index // 10, y) and torch.equal(x.flatten().long() // 10, y)
    with pytest.raises(ValueError, match="needs the classes"):
        buffer.sample(4)


def test_the_buffer_state_round_trips():
    buffer = ebm.ReplayBuffer(20, (1, 2, 2), lambda n, g=None: torch.rand(n, 1, 2, 2, generator=g))
    other = ebm.ReplayBuffer(20, (1, 2, 2), lambda n, g=None: torch.zeros(n, 1, 2, 2))
    other.load_state_dict(buffer.state_dict())
    assert torch.equal(other.samples, buffer.samples)


def test_the_jem_energy_is_minus_logsumexp_and_the_conditional_energy_minus_a_logit():
    torch.manual_seed(0)
    model = ebm.EnergyNet(image_size=8, width=4, outputs=10)
    x = torch.rand(5, 1, 8, 8)
    logits = model(x).detach().double().numpy()
    assert np.allclose(model.energy(x).detach().numpy(), -logsumexp(logits, axis=1), atol=1e-5)
    y = torch.tensor([0, 1, 2, 3, 9])
    assert np.allclose(model.energy(x, y).detach().numpy(), -logits[np.arange(5), y.numpy()], atol=1e-6)
    single = ebm.EnergyNet(image_size=8, width=4, outputs=1)
    assert torch.equal(single.energy(x), single(x)[:, 0])


def test_the_informative_init_has_each_class_mean_and_covariance():
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.normal(size=(600, 1, 2, 2)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, 3, 600))
    images[labels == 2] += 3.0
    gaussians = ebm.ClassGaussians(images, labels, 3)
    for k in range(3):
        members = images[labels == k].flatten(1).double().numpy()
        draws, classes = gaussians.sample(6000, torch.Generator().manual_seed(k), y=torch.full((6000,), k), clamp=None)
        assert torch.all(classes == k)
        flat = draws.flatten(1).double().numpy()
        assert np.allclose(flat.mean(0), members.mean(0), atol=0.06)
        assert np.allclose(np.cov(flat.T), np.cov(members.T, bias=True) + 1e-4 * np.eye(4), atol=0.1)
    with pytest.raises(ValueError, match="at least 2"):
        ebm.ClassGaussians(images[:3], torch.tensor([0, 1, 1]), 3)


def test_proximal_sgld_lowers_the_energy_of_its_chains():
    torch.manual_seed(1)
    model = ebm.EnergyNet(image_size=8, width=4, outputs=10)
    x0 = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    x, states, energies = ebm.ProximalSGLD(steps=4, inner=3, step_size=0.05).run(model, x0, trajectory=True)
    assert len(states) == 5 and x.min() >= 0 and x.max() <= 1
    assert float(model.energy(x).mean().detach()) < float(model.energy(x0).mean().detach())


def test_contrastive_divergence_and_the_guard():
    loss, parts = ebm.contrastive_divergence(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0]), 0.5)
    assert float(parts["cd"]) == pytest.approx(1.0)
    assert float(loss) == pytest.approx(1.0 + 0.5 * (5.0 + 2.0))


def test_a_diverging_run_stops_with_the_ebm_advice_and_keeps_no_checkpoint(tmp_path, monkeypatch, capsys):
    from training import run as run_module

    monkeypatch.setattr(ebm, "ENERGY_LIMIT", 1e-9)          # every energy "blows up" at the first step
    out = tmp_path / "run"
    status = run_module.main(["ebm", "--epochs", "1", "--width", "4", "--sgld-steps", "2", "--buffer-size", "50",
                              "--batch-size", "128", "--out", str(out)])
    message = capsys.readouterr().err
    assert status == 1
    assert "diverged" in message and "more SGLD steps" in message and "L2 energy penalty" in message
    assert not (out / "model.safetensors").exists()


def test_the_conditional_report_counts_what_the_judge_reads_in_its_own_samples():
    """The agreement share is recomputed here by running the judge on the returned samples."""
    from functools import lru_cache

    from dgm_core import catalogue
    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.data.builtin import resize

    load = lru_cache(None)(load_checkpoint)
    report = energy_lab.conditional_samples("ebm-cond-digits", load, 3, 15, seed=4, n=12)
    judge = load(catalogue.JUDGE).model
    with torch.no_grad():
        read = judge(resize(report["samples"].clamp(0, 1), judge.image_size)).argmax(1)
    assert report["read_as_asked"] == pytest.approx(float((read == 3).float().mean()))
    assert len(report["energy_curve"]) == 15 and report["samples"].shape == (12, 1, 8, 8)
    assert report["note"].startswith(f"{int((read == 3).sum())} of 12 chains are read as a 3")


def test_proximal_inner_steps_repeat_the_full_gradient_through_a_linear_first_layer():
    """layer_one is one convolution (linear), so ∇ₓ⟨layer_one(x), p⟩ with p = ∂E/∂h₁ is exactly ∇ₓE:
    one outer step of k inner steps is k clipped steps along the autograd gradient of the whole energy."""
    torch.manual_seed(2)
    model = ebm.EnergyNet(image_size=8, width=4, outputs=10)
    x0 = 0.3 + 0.4 * torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    x, _, _ = ebm.ProximalSGLD(steps=1, inner=3, step_size=1.0, grad_clip=0.01).run(model, x0)
    leaf = x0.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.energy(leaf).sum(), leaf)
    assert torch.allclose(x, x0 - 3 * grad.clamp(-0.01, 0.01), atol=1e-6)


def test_a_live_energy_that_runs_away_is_frozen_with_the_ebm_advice():
    from dgm_core.live import divergence_message
    from space.live import status

    config = ebm.ToyEBMConfig(step_size=1, sigma_start=1, sigma_end=1, lr=0.05, alpha=0, hidden=256)
    session = ebm.live_session(config)
    for _ in range(20):
        session.advance(50)
        if session.all_diverged:
            break
    assert session.all_diverged
    frozen_at = session.steps
    session.advance(50)
    assert session.steps == frozen_at                      # frozen: no more steps
    assert "passed ±10000" in divergence_message(session.models["ebm"])
    shown = status(session.snapshot(settings="the settings"), 1000)
    assert f"diverged at step {frozen_at}" in shown and "passed ±10000" in shown
    calm = ebm.live_session(ebm.ToyEBMConfig())
    calm.advance(300)
    assert not calm.diverged


@pytest.mark.parametrize("agree,n", [(0, 16), (1, 16), (4, 16), (5, 16), (12, 16), (3, 12)])
def test_above_chance_is_the_binomial_tail_counted_by_hand(agree, n):
    """P(at least `agree` of `n` at chance 1/10), summed term by term, decides the sentence at 5 %."""
    from math import comb

    tail = sum(comb(n, k) * 0.1 ** k * 0.9 ** (n - k) for k in range(agree, n + 1))
    sentence = energy_lab.above_chance_sentence(agree, n)
    assert sentence.startswith("More than chance") == (tail < 0.05)
    assert f"p = {tail:.2g}" in sentence


def test_the_chance_sentence_never_asks_for_more_steps_than_the_panel_runs():
    at_max = energy_lab.above_chance_sentence(0, 16, steps=energy_lab.MAX_CONDITIONAL_STEPS)
    assert "more SGLD steps" not in at_max and "another seed" in at_max
    assert f"more SGLD steps (up to {energy_lab.MAX_CONDITIONAL_STEPS})" in energy_lab.above_chance_sentence(0, 16, steps=100)
