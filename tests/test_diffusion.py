"""The diffusion family's maths (dgm_core.diffusion) against independent oracles: diffusers' DDPMScheduler and
DDIMScheduler on the same inputs, torchcfm's flow matcher and its exact OT plan (POT), brute force over every
pairing, Gaussian conditioning worked out with numpy, Monte Carlo of the step-by-step chain, and closed-form
ODE solutions."""
import itertools
import math

import numpy as np
import pytest
import torch

from dgm_core import diffusion

diffusers = pytest.importorskip("diffusers", reason="diffusers is a dev requirement (pip install -r requirements-dev.txt)")

DIFFUSERS_NAMES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def _ddpm_scheduler(kind):
    return diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=DIFFUSERS_NAMES[kind], clip_sample=False,
                                   timestep_spacing="trailing")


def _ddim_scheduler(kind):
    return diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule=DIFFUSERS_NAMES[kind], clip_sample=False,
                                   set_alpha_to_one=True, timestep_spacing="trailing")


# ------------------------------------------------------------------------------------------ the forward process
@pytest.mark.parametrize("kind", diffusion.KINDS)
def test_schedules_and_noising_equal_diffusers(kind):
    ours, theirs = diffusion.schedule(kind), _ddpm_scheduler(kind)
    assert torch.allclose(ours.betas.float(), theirs.betas, atol=1e-7)
    assert torch.allclose(ours.alphas_cumprod.float(), theirs.alphas_cumprod, rtol=1e-5, atol=1e-9)
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(6, 1, 8, 8, generator=generator), torch.randn(6, 1, 8, 8, generator=generator)
    t = torch.tensor([0, 1, 250, 500, 998, 999])
    assert torch.allclose(diffusion.q_sample(ours, x0, t, noise), theirs.add_noise(x0, noise, t), atol=1e-5)


@pytest.mark.parametrize("kind", diffusion.KINDS)
def test_noising_in_one_draw_has_the_moments_of_the_chain_of_single_steps(kind):
    """x_t drawn in one go from q(x_t | x_0) against x_t reached by t single steps x ← √(1−β) x + √β ε (numpy)."""
    sched = diffusion.schedule(kind, steps=200)
    betas = sched.betas.numpy()
    rng = np.random.default_rng(0)
    x0, n, t = 1.5, 200_000, 120
    x = np.full(n, x0)
    for beta in betas[:t + 1]:
        x = np.sqrt(1 - beta) * x + np.sqrt(beta) * rng.standard_normal(n)
    scale, variance = diffusion.q_moments(sched, t)
    assert x.mean() == pytest.approx(float(scale) * x0, abs=4 * math.sqrt(float(variance) / n))
    assert x.var() == pytest.approx(float(variance), rel=0.02)
    one_draw = diffusion.q_sample(sched, torch.full((n, 1), x0, dtype=torch.float64), torch.full((n,), t),
                                  torch.randn(n, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    assert one_draw.mean().item() == pytest.approx(x.mean(), abs=0.01) and one_draw.var().item() == pytest.approx(x.var(), rel=0.02)


@pytest.mark.parametrize("t, t_prev", [(1, 0), (500, 499), (999, 899), (99, -1)])
def test_the_posterior_is_gaussian_conditioning_of_the_joint(t, t_prev):
    """q(x_{t′} | x_t, x_0) from the joint Gaussian of (x_{t′}, x_t) given x_0, conditioned with the textbook
    formula: mean μ′ + c/v (x_t − μ), variance v′ − c²/v, with c = √(ᾱ_t/ᾱ_{t′}) (1 − ᾱ_{t′})."""
    sched = diffusion.linear_schedule()
    bars = np.concatenate([[1.0], np.cumprod(1 - sched.betas.numpy())])     # ᾱ at t = −1, 0, …, T−1
    a_t, a_p = bars[t + 1], bars[t_prev + 1]
    x0, x_t = torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([[-0.3]], dtype=torch.float64)
    mu_p, v_p = math.sqrt(a_p) * 0.7, 1 - a_p
    mu_t, v_t = math.sqrt(a_t) * 0.7, 1 - a_t
    c = math.sqrt(a_t / a_p) * v_p
    mean, variance = diffusion.posterior(sched, x0, x_t, t, t_prev)
    assert mean.item() == pytest.approx(mu_p + c / v_t * (-0.3 - mu_t), rel=1e-9, abs=1e-12)
    assert variance.item() == pytest.approx(v_p - c * c / v_t, rel=1e-9, abs=1e-15)


# ------------------------------------------------------------------------------------------ the samplers
@pytest.mark.parametrize("kind", diffusion.KINDS)
@pytest.mark.parametrize("steps", [1000, 10])
def test_a_ddpm_step_equals_diffusers(kind, steps):
    ours, theirs = diffusion.schedule(kind), _ddpm_scheduler(kind)
    theirs.set_timesteps(steps)
    timesteps = diffusion.sampling_timesteps(1000, steps)
    assert timesteps == theirs.timesteps.tolist()
    generator = torch.Generator().manual_seed(3)
    x, eps = torch.randn(4, 2, generator=generator), torch.randn(4, 2, generator=generator)
    for i in (0, len(timesteps) // 2, len(timesteps) - 1):
        t = timesteps[i]
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        mine = diffusion.ddpm_step(ours, eps, t, x, t_prev, torch.Generator().manual_seed(i))
        reference = theirs.step(eps, t, x, generator=torch.Generator().manual_seed(i)).prev_sample
        assert torch.allclose(mine, reference, atol=2e-5), (t, (mine - reference).abs().max())


@pytest.mark.parametrize("kind", diffusion.KINDS)
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_a_ddim_step_equals_diffusers(kind, eta):
    ours, theirs = diffusion.schedule(kind), _ddim_scheduler(kind)
    theirs.set_timesteps(20)
    timesteps = diffusion.sampling_timesteps(1000, 20)
    assert timesteps == theirs.timesteps.tolist()
    generator = torch.Generator().manual_seed(4)
    x, eps = torch.randn(5, 1, 4, 4, generator=generator), torch.randn(5, 1, 4, 4, generator=generator)
    for i in (0, 7, 19):
        t = timesteps[i]
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        mine = diffusion.ddim_step(ours, eps, t, x, t_prev, eta, torch.Generator().manual_seed(i))
        reference = theirs.step(eps, t, x, eta=eta, generator=torch.Generator().manual_seed(i)).prev_sample
        assert torch.allclose(mine, reference, atol=2e-5), (t, eta, (mine - reference).abs().max())


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_a_clipped_step_equals_diffusers_clip_sample(method):
    """x̂_0 clipped to [−c, c] (diffusers' clip_sample with its range; DDIM recomputes ε from the clipped x̂_0,
    diffusers' use_clipped_model_output)."""
    ours = diffusion.cosine_schedule()
    make = diffusers.DDPMScheduler if method == "ddpm" else diffusers.DDIMScheduler
    theirs = make(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True, clip_sample_range=2.5,
                  timestep_spacing="trailing")
    theirs.set_timesteps(10)
    generator = torch.Generator().manual_seed(6)
    x, eps = torch.randn(64, 2, generator=generator), torch.randn(64, 2, generator=generator) * 1.5
    for t, t_prev in ((999, 899), (499, 399), (99, -1)):
        if method == "ddpm":
            mine = diffusion.ddpm_step(ours, eps, t, x, t_prev, torch.Generator().manual_seed(t), clip=2.5)
            reference = theirs.step(eps, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        else:
            mine = diffusion.ddim_step(ours, eps, t, x, t_prev, 0.3, torch.Generator().manual_seed(t), clip=2.5)
            reference = theirs.step(eps, t, x, eta=0.3, use_clipped_model_output=True,
                                    generator=torch.Generator().manual_seed(t)).prev_sample
        assert torch.allclose(mine, reference, atol=2e-5), (method, t, (mine - reference).abs().max())


def test_ddim_with_eta_one_has_the_ddpm_posterior_variance():
    """σ² of DDIM at η = 1 is β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t (Ho et al., eq. 7), written here from the βs."""
    sched = diffusion.cosine_schedule()
    betas = sched.betas.numpy()
    bars = np.cumprod(1 - betas)
    x0 = torch.zeros(20_000, 1, dtype=torch.float64)
    for t in (1, 300, 900):
        beta_tilde = (1 - bars[t - 1]) / (1 - bars[t]) * betas[t]
        _, variance = diffusion.posterior(sched, x0, x0, t)
        assert variance.item() == pytest.approx(beta_tilde, rel=1e-9)
        # the spread of DDIM's draws at η = 1 around its η = 0 point (same ε̂) is that variance
        eps = torch.zeros_like(x0)
        spread = (diffusion.ddim_step(sched, eps, t, x0, t - 1, 1.0, torch.Generator().manual_seed(t))
                  - diffusion.ddim_step(sched, eps, t, x0, t - 1, 0.0))
        assert spread.var().item() == pytest.approx(beta_tilde, rel=0.05)


def test_sampling_timesteps_refuse_what_cannot_be_walked():
    assert diffusion.sampling_timesteps(1000, 1) == [999]
    for bad in (0, 1001, 2.5):
        with pytest.raises(ValueError, match="whole number from 1 to 1000"):
            diffusion.sampling_timesteps(1000, bad)
    with pytest.raises(ValueError, match="choose ddpm or ddim"):
        diffusion.sample(lambda x, t: x, diffusion.linear_schedule(10), torch.zeros(2, 2), 5, method="euler")


def test_the_oracle_denoiser_of_one_point_samples_that_point():
    """With data a single point x*, the optimal ε̂(x_t, t) = (x_t − √ᾱ_t x*) / √(1 − ᾱ_t): every sampler must
    land on x* (DDIM at η = 0 in any number of steps; DDPM up to its last step's tiny noise)."""
    target = torch.tensor([1.5, -0.5], dtype=torch.float64)
    sched = diffusion.linear_schedule()

    def oracle(x, t):
        a = sched.alpha_bar(t).reshape(-1, 1)
        return (x - a.sqrt() * target) / (1 - a).sqrt()

    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for steps in (1, 10, 1000):
        landed = diffusion.sample(oracle, sched, x_T, steps, "ddim")
        assert torch.allclose(landed, target.expand_as(landed), atol=1e-6)
    landed = diffusion.sample(oracle, sched, x_T, 50, "ddpm", generator=torch.Generator().manual_seed(1))
    assert (landed - target).abs().max() < 1e-3


# ------------------------------------------------------------------------------------------ flow matching
torchcfm = pytest.importorskip("torchcfm", reason="torchcfm is a dev requirement (pip install -r requirements-dev.txt)")


def test_the_conditional_path_and_its_velocity_equal_torchcfm():
    generator = torch.Generator().manual_seed(0)
    x0, x1, t = torch.randn(32, 2, generator=generator), torch.randn(32, 2, generator=generator), torch.rand(32, generator=generator)
    t_ref, xt_ref, ut_ref = torchcfm.ConditionalFlowMatcher(sigma=0.0).sample_location_and_conditional_flow(x0, x1, t)
    x_t, u_t = diffusion.conditional_path(x0, x1, t)
    assert torch.equal(t_ref, t) and torch.allclose(x_t, xt_ref, atol=1e-6) and torch.allclose(u_t, ut_ref)
    images = torch.randn(8, 1, 4, 4, generator=generator), torch.randn(8, 1, 4, 4, generator=generator)
    t = torch.rand(8, generator=generator)
    _, xt_ref, ut_ref = torchcfm.ConditionalFlowMatcher(sigma=0.0).sample_location_and_conditional_flow(*images, t)
    x_t, u_t = diffusion.conditional_path(*images, t)
    assert torch.allclose(x_t, xt_ref, atol=1e-6) and torch.allclose(u_t, ut_ref)


def test_the_ot_pairing_is_torchcfms_exact_plan_and_the_best_of_every_permutation():
    from torchcfm.optimal_transport import OTPlanSampler

    generator = torch.Generator().manual_seed(5)
    x0, x1 = torch.randn(7, 2, generator=generator), torch.randn(7, 2, generator=generator) + 2
    pairing = diffusion.ot_pairing(x0, x1)
    plan = np.zeros((7, 7))
    plan[pairing, np.arange(7)] = 1 / 7
    assert np.allclose(plan, OTPlanSampler(method="exact").get_map(x0, x1), atol=1e-9)
    cost = lambda perm: float(((x0[list(perm)] - x1) ** 2).sum())  # noqa: E731
    best = min(itertools.permutations(range(7)), key=cost)
    assert cost(pairing) == pytest.approx(cost(best), rel=1e-12)
    # and OT pairs are never crossed: their total squared length is below every random pairing's
    random = [cost(torch.randperm(7, generator=generator).tolist()) for _ in range(50)]
    assert cost(pairing) <= min(random)
    with pytest.raises(ValueError, match="batches of one size"):
        diffusion.ot_pairing(x0, x1[:3])


def test_the_flow_matching_loss_is_zero_for_the_true_velocity_of_a_point_mass():
    """Data at one point x*: the marginal velocity is (x* − x)/(1 − t), which makes the loss of the straight
    path exactly zero; a wrong field does not."""
    target = torch.tensor([2.0, -1.0])
    data = target.expand(256, 2).clone()
    true_velocity = lambda x, t: (target - x) / (1 - t).reshape(-1, 1)  # noqa: E731
    for coupling in diffusion.COUPLINGS:
        loss = diffusion.flow_matching_loss(true_velocity, data, torch.Generator().manual_seed(0), coupling)
        assert loss.item() == pytest.approx(0.0, abs=1e-8)
    wrong = diffusion.flow_matching_loss(lambda x, t: torch.zeros_like(x), data, torch.Generator().manual_seed(0))
    assert wrong.item() > 1.0
    with pytest.raises(ValueError, match="choose one of independent, ot"):
        diffusion.couple(data, data, "sinkhorn")


def test_euler_is_first_order_and_heun_second_order_on_a_linear_ode():
    """dx/dt = a x has x(1) = e^a x(0): halving h halves Euler's error and quarters Heun's."""
    a = -1.3
    x0 = torch.ones(1, 1, dtype=torch.float64)
    velocity = lambda x, t: a * x  # noqa: E731
    exact = math.exp(a)
    errors = {s: [abs(diffusion.integrate(velocity, x0, n, s).item() - exact) for n in (20, 40, 80)] for s in diffusion.SOLVERS}
    for solver, order in (("euler", 1), ("heun", 2)):
        ratios = [errors[solver][i] / errors[solver][i + 1] for i in range(2)]
        assert all(r == pytest.approx(2 ** order, rel=0.1) for r in ratios), (solver, ratios)


def test_straightness_is_one_for_a_line_and_more_for_a_bend():
    line = [torch.tensor([[0.0, 0.0]]) + k * torch.tensor([[1.0, 1.0]]) for k in range(5)]
    assert diffusion.straightness(line).item() == pytest.approx(1.0)
    bend = [torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])]
    assert diffusion.straightness(bend).item() == pytest.approx(2 / math.sqrt(2))
