"""RealNVP, its likelihood on discrete images, the OOD scores and the Hutchinson estimators
(dgm_core/flow.py), each against an independent oracle: the autograd Jacobian, a closed-form
discrete probability from scipy, scikit-learn's AUROC, explicit matrix powers, the closed-form
variance of Hutchinson's estimator, and numerical integration of the 2-D density."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from dgm_core import flow
from dgm_core.labs import flows as flows_lab
from dgm_core.live import PANEL_POINTS, WARP_POINTS


def _perturbed(module: torch.nn.Module, scale: float = 0.05, seed: int = 0) -> torch.nn.Module:
    """The layers start as the identity (zero-initialised last layers): move every weight so the
    tests see a non-trivial map."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return module


def _jacobian_logdet(fn, x: torch.Tensor) -> float:
    jac = torch.autograd.functional.jacobian(lambda t: fn(t.view(1, *x.shape[1:])).flatten(), x[0].flatten())
    sign, logabs = torch.linalg.slogdet(jac.double())
    assert sign != 0
    return float(logabs)


# ---------------------------------------------------------------- the bijection and its log-det
def test_a_fresh_coupling_is_the_identity():
    layer = flow.AffineCoupling(flow.checkerboard_mask(4, 4), flow.ConvNet(1, 1, 8, 1), (1, 1, 1, 1))
    x = torch.randn(3, 1, 4, 4)
    y, logdet = layer(x)
    assert torch.equal(y, x) and torch.all(logdet == 0)


@pytest.mark.parametrize("kind", ["checkerboard", "channel", "vector"])
def test_each_coupling_inverts_and_its_logdet_is_the_autograd_jacobians(kind):
    torch.manual_seed(0)
    if kind == "checkerboard":
        layer, x = flow.AffineCoupling(flow.checkerboard_mask(4, 4), flow.ConvNet(2, 2, 8, 1), (1, 2, 1, 1)), torch.randn(2, 2, 4, 4)
    elif kind == "channel":
        layer, x = flow.AffineCoupling(flow.channel_mask(4), flow.ConvNet(4, 4, 8, 1), (1, 4, 1, 1)), torch.randn(2, 4, 2, 2)
    else:
        layer, x = flow.AffineCoupling(flow.vector_mask(5), flow.mlp(5, 5, 16), (1, 5)), torch.randn(2, 5)
    _perturbed(layer, 0.3)
    y, logdet = layer(x)
    assert torch.allclose(layer.inverse(y), x, atol=1e-5)
    for i in range(2):
        assert float(logdet[i].detach()) == pytest.approx(_jacobian_logdet(lambda t: layer(t)[0], x[i:i + 1]), abs=1e-4)


def test_the_logit_transform_logdet_is_its_jacobians():
    y = torch.rand(1, 1, 3, 3) * 0.9 + 0.05
    w, logdet = flow.logit_transform(y, 0.05)
    assert float(logdet[0]) == pytest.approx(_jacobian_logdet(lambda t: flow.logit_transform(t, 0.05)[0], y), abs=1e-4)
    assert torch.allclose(flow.inverse_logit_transform(w, 0.05), y, atol=1e-6)


def test_squeeze_is_a_permutation_and_unsqueeze_its_inverse():
    x = torch.arange(2 * 2 * 4 * 4, dtype=torch.float32).view(2, 2, 4, 4)
    s = flow.squeeze(x)
    assert s.shape == (2, 8, 2, 2)
    assert sorted(s.flatten().tolist()) == sorted(x.flatten().tolist())
    assert torch.equal(flow.unsqueeze(s), x)
    # the four channels of one 2x2 block: pixel (0,0), (0,1), (1,0), (1,1)
    assert s[0, :4, 0, 0].tolist() == [x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]]


@pytest.mark.parametrize(("size", "scales"), [(8, 2), (8, 3), (4, 1)])
def test_realnvp_inverts_to_1e_4_and_its_whole_logdet_is_the_jacobians(size, scales):
    torch.manual_seed(1)
    model = _perturbed(flow.RealNVP(image_size=size, width=8, blocks=1, scales=scales), 0.05)
    w = torch.randn(3, 1, size, size)
    z, logdet = model.flow_forward(w)
    assert z.shape == (3, size * size)
    assert (model.flow_inverse(z) - w).abs().max() < 1e-4
    assert float(logdet[0].detach()) == pytest.approx(_jacobian_logdet(lambda t: model.flow_forward(t)[0], w[:1]), abs=1e-3)


def test_the_variational_dequantizer_reports_log_q_by_the_change_of_variables():
    """u = σ(T(ε)) with T the conditional couplings: log q(u|x) = log N(ε) − log|det ∂u/∂ε|, the
    determinant taken from the autograd Jacobian of ε ↦ u."""
    torch.manual_seed(2)
    deq = _perturbed(flow.VariationalDequantizer(1, 4, 8), 0.2)
    k = torch.randint(0, 17, (1, 1, 4, 4)).float()
    u, log_q = deq(k, 17, torch.Generator().manual_seed(5))
    eps = torch.randn(k.shape, generator=torch.Generator().manual_seed(5))
    condition = k / 16 - 0.5

    def to_u(e):
        h = e
        for layer in deq.layers:
            h, _ = layer(h, condition)
        return torch.sigmoid(h)

    assert torch.allclose(to_u(eps), u, atol=1e-6)
    expected = float(flow.standard_normal_log_prob(eps)) - _jacobian_logdet(to_u, eps)
    assert float(log_q.detach()) == pytest.approx(expected, abs=1e-3)
    assert torch.all((u > 0) & (u < 1))


def test_bits_per_dim_counts_dequantization_and_logit_against_the_exact_discrete_probability():
    """A fresh RealNVP is the identity, so w ~ N(0, I) pixel by pixel and the exact probability of
    level k is Φ(logit(α + (1−2α)(k+1)/L)) − Φ(logit(α + (1−2α)k/L)) (scipy). The reported
    log-likelihood is a lower bound on it (Jensen), close to it when averaged over many u; leaving
    out the −D log L term or the logit's log-det would overshoot it by nats per pixel."""
    levels, alpha = 17, 0.05
    model = flow.RealNVP(image_size=4, width=8, blocks=1, scales=1, levels=levels, alpha=alpha)
    g = torch.Generator().manual_seed(0)
    k = torch.randint(0, levels, (5, 1, 4, 4), generator=g).float()
    images = k / (levels - 1)
    edges = lambda j: alpha + (1 - 2 * alpha) * j / levels  # noqa: E731
    logit = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
    exact = np.log(norm.cdf(logit(edges(k.numpy() + 1))) - norm.cdf(logit(edges(k.numpy())))).reshape(5, -1).sum(1)
    bound = torch.stack([model.log_prob(images, g) for _ in range(400)]).mean(0).detach().numpy()
    assert np.all(bound <= exact + 0.05)
    assert np.all(exact - bound < 0.05 * 16)          # under 0.05 nats per pixel from exact
    bpd = flow.image_bits_per_dim(model, images, torch.Generator().manual_seed(1))
    assert bpd.shape == (5,) and torch.all(bpd >= -exact.max() / (16 * math.log(2)) - 0.2)


def test_samples_are_images_on_the_models_levels():
    model = _perturbed(flow.RealNVP(image_size=8, width=8, blocks=1, levels=17), 0.02)
    x = model.sample(16, temperature=0.7, generator=torch.Generator().manual_seed(0))
    assert x.shape == (16, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert torch.allclose(x * 16, torch.round(x * 16), atol=1e-5)


def test_evaluation_draws_leave_the_global_rng_alone():
    model = flow.RealNVP(image_size=4, width=8, blocks=1, scales=1)
    images = torch.rand(4, 1, 4, 4)
    state = torch.random.get_rng_state()
    flow.image_bits_per_dim(model, images, torch.Generator().manual_seed(0))
    model.sample(4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.random.get_rng_state())


# ----------------------------------------------------------------------- the 2-D live flow
def test_the_2d_flow_density_integrates_to_one_and_inverts():
    torch.manual_seed(3)
    f = _perturbed(flow.VectorRealNVP(2, 4, 16, shift=[0.3, -0.2], scale=[1.5, 0.8]), 0.3)
    x = torch.randn(50, 2)
    z, _ = f(x)
    assert torch.allclose(f.inverse(z), x, atol=1e-5)
    axis = torch.linspace(-12, 12, 601)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    with torch.no_grad():
        density = f.log_prob(torch.stack([gx.flatten(), gy.flatten()], 1)).exp().view(601, 601).numpy()
    step = float(axis[1] - axis[0])
    assert density.sum() * step * step == pytest.approx(1.0, abs=0.01)


def test_the_live_flow_learns_and_reports_its_panels():
    model = flow.ToyFlow(flow.ToyFlowConfig(dataset="moons", couplings=4, hidden=32, seed=0))
    before = model.metrics()["held_out_nll"]
    for _ in range(300):
        model.step()
    after = model.metrics()["held_out_nll"]
    assert model.steps == 300 and len(model.history) == 300
    assert after < before - 0.5, (before, after)
    view = model.view()
    assert view.field.values.shape == (len(view.field.axis), len(view.field.axis)) and view.points.shape == (PANEL_POINTS, 2)
    warp = model.warp(lines=5, points_per_line=20)
    assert len(warp["forward"]) == len(warp["names"]) == 5 and len(warp["inverse"]) == 5
    assert len(warp["forward_points"]) == len(warp["inverse_points"]) == 5
    with torch.no_grad():
        assert np.allclose(warp["forward_points"][-1], model.flow(model.pool[:WARP_POINTS])[0].numpy(), atol=1e-5)
    grid = warp["forward"][0]
    # the last forward stage is z = f(x) of the grid's points; the last inverse stage is f⁻¹ of the latent grid
    flat = torch.from_numpy(grid.reshape(-1, 2)) * model.flow.scale + model.flow.shift
    with torch.no_grad():
        assert np.allclose(warp["forward"][-1].reshape(-1, 2), model.flow(flat)[0].numpy(), atol=1e-5)
        z = torch.from_numpy(warp["inverse"][0].reshape(-1, 2))
        assert np.allclose(warp["inverse"][-1].reshape(-1, 2), model.flow.inverse(z).numpy(), atol=1e-4)


def test_live_settings_out_of_range_are_refused_with_the_range():
    with pytest.raises(ValueError, match="couplings must be between 2 and 16"):
        flow.ToyFlowConfig(couplings=40)


# --------------------------------------------------------------------- OOD scores and AUROC
@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, 40).astype(float)          # integers: many ties
    b = rng.integers(1, 8, 25).astype(float)
    expected = roc_auc_score(np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a, b])
    assert flow.auroc(a, b) == pytest.approx(expected, abs=1e-12)


def test_auroc_is_one_when_every_ood_score_is_larger_and_needs_both_sets():
    assert flow.auroc([1, 2, 3], [4, 5]) == 1.0 and flow.auroc([4, 5], [1, 2]) == 0.0
    with pytest.raises(ValueError):
        flow.auroc([], [1.0])


def test_compressed_lengths_rank_noise_above_a_constant_image():
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(17, (3, 1, 8, 8), generator=g).float() / 16
    constant = torch.full((3, 1, 8, 8), 0.5)
    for lengths in (flow.png_bits, flow.zlib_bits):
        assert np.all(lengths(noise, 17) > lengths(constant, 17))
    score = flow.complexity_score(np.array([2.0, 3.0]), np.array([64.0, 128.0]), 64)
    assert np.allclose(score, [1.0, 1.0])


def test_typicality_scores_batches_by_their_distance_from_the_entropy():
    values = np.array([1.0, 3.0, 2.0, 2.0, 10.0, 10.0])
    scores = flow.typicality_scores(values, 2.0, 2, np.random.default_rng(0))
    assert len(scores) == 3
    batch_means = sorted(abs(m - 2.0) for m in (values.reshape(-1, 2).mean(1)))
    assert sorted(scores) != [] and max(scores) == pytest.approx(8.0) and min(scores) == pytest.approx(0.0)
    assert len(batch_means) == 3
    with pytest.raises(ValueError, match="at least 10"):
        flow.typicality_scores(values, 2.0, 10, np.random.default_rng(0))


def test_ood_sets_have_the_models_size_and_levels():
    sets = flow.ood_images("digits", 8, 17, 20, seed=0)
    assert {"shapes", "inverted digits", "uniform noise", "constant images"} <= set(sets)
    for images in sets.values():
        assert images.shape == (20, 1, 8, 8)
        assert torch.allclose(images * 16, torch.round(images * 16), atol=1e-5)
    assert torch.all(sets["constant images"].flatten(1).std(1) == 0)


def test_mnist_joins_the_ood_sets_where_its_files_are_on_disk(tmp_path):
    """Tiny MNIST idx files written here: the set appears, resized to the model's 8x8 and quantised."""
    from tests.test_data import _idx_images, _idx_labels

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("t10k", 3)):
        _idx_images(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _idx_labels(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n))
    sets = flow.ood_images("digits", 8, 17, 3, root=tmp_path)
    assert "mnist" in sets and "fashion-mnist" not in sets
    assert sets["mnist"].shape == (3, 1, 8, 8)
    assert torch.allclose(sets["mnist"] * 16, torch.round(sets["mnist"] * 16), atol=1e-5)
    assert "mnist" not in flow.ood_images("digits", 8, 17, 3, root=tmp_path / "empty")


# ------------------------------------------------------------------ the Hutchinson estimators
def _block(dim=5, lipschitz=0.7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return flow.ResidualBlock(dim, lipschitz, generator=g), torch.randn(dim, generator=g)


def test_the_residual_block_is_a_contraction():
    block, x = _block(6, 0.8)
    for seed in range(5):
        point = torch.randn(6, generator=torch.Generator().manual_seed(seed))
        jac = torch.autograd.functional.jacobian(block, point)
        assert torch.linalg.matrix_norm(jac, 2) <= 0.8 + 1e-5


def _exact_truncated_series(block, x, terms):
    """The truncated series from eigenvalues of the Jacobian: tr(J^k) = Σ λᵢ^k (numpy)."""
    jac = torch.autograd.functional.jacobian(block, x).double().numpy()
    eig = np.linalg.eigvals(jac)
    return float(np.real(sum((-1) ** (k + 1) * (eig ** k).sum() / k for k in range(1, terms + 1))))


def test_the_full_power_series_is_the_exact_logdet():
    block, x = _block()
    assert _exact_truncated_series(block, x, 80) == pytest.approx(flow.exact_logdet(block, x), abs=1e-5)


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_the_truncated_estimator_is_unbiased_for_its_truncated_series(kind):
    block, x = _block()
    est = flow.power_series_logdet(block, x, 3, 4, kind, torch.Generator().manual_seed(0), draws=4000).double()
    se = float(est.std()) / math.sqrt(len(est))
    assert abs(float(est.mean()) - _exact_truncated_series(block, x, 3)) < 4 * se


def test_hutchinson_variance_matches_its_closed_form():
    """For one probe and one term, vᵀJv has variance 2‖S‖²_F with Gaussian v and 2(‖S‖²_F − Σ S_ii²)
    with Rademacher v, S = (J + Jᵀ)/2 (Hutchinson, 1990; Avron & Toledo, 2011)."""
    block, x = _block(6, 0.9, seed=4)
    jac = torch.autograd.functional.jacobian(block, x).double()
    sym = (jac + jac.T) / 2
    closed = {"gaussian": 2 * float((sym ** 2).sum()),
              "rademacher": 2 * float((sym ** 2).sum() - (torch.diagonal(sym) ** 2).sum())}
    for kind, expected in closed.items():
        est = flow.power_series_logdet(block, x, 1, 1, kind, torch.Generator().manual_seed(1), draws=20000).double()
        assert float(est.var()) == pytest.approx(expected, rel=0.08), kind


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_the_russian_roulette_mean_is_within_its_standard_error_of_the_exact_logdet(kind):
    block, x = _block(5, 0.8, seed=2)
    exact = flow.exact_logdet(block, x)
    est = flow.russian_roulette_logdet(block, x, 0.3, 2, kind, torch.Generator().manual_seed(3), draws=6000).double()
    se = float(est.std()) / math.sqrt(len(est))
    assert abs(float(est.mean()) - exact) < 3 * se, (float(est.mean()), exact, se)
    # a truncation at one term is visibly biased on the same block: the test could fail
    one_term = flow.power_series_logdet(block, x, 1, 2, kind, torch.Generator().manual_seed(3), draws=6000).double()
    assert abs(float(one_term.mean()) - exact) > 3 * float(one_term.std()) / math.sqrt(6000)


def test_the_exact_truncated_series_matches_the_eigenvalue_oracle():
    block, x = _block(5, 0.9, seed=1)
    for n in (1, 2, 5):
        assert flow.truncated_series(block, x, n) == pytest.approx(_exact_truncated_series(block, x, n), abs=1e-6)


def test_the_study_reports_bias_shrinking_with_terms():
    study = flow.hutchinson_study(4, 0.9, [1, 2, 8], [4], draws=300, seed=0)
    series = {r["terms n"]: r for r in study.rows if r["estimator"] == "truncated series" and r["probes"] == "gaussian"}
    assert abs(series[8]["bias"]) < abs(series[2]["bias"]) < abs(series[1]["bias"])
    assert study.jacobian_norm <= 0.9 + 1e-5
    assert {r["estimator"] for r in study.rows} == {"truncated series", "Russian roulette"}
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        flow.ResidualBlock(3, 1.2)


def test_the_roulette_variance_note_follows_the_finite_variance_condition():
    study = flow.HutchinsonStudy(exact=0.0, jacobian_norm=0.9, rows=[])
    assert "finite variance" in flows_lab.roulette_variance_note(study, 0.1)         # 0.81 < 0.9
    note = flows_lab.roulette_variance_note(study, 0.5)                                # 0.81 ≥ 0.5
    assert "infinite" in note and "p < 0.19" in note


def test_ood_findings_name_the_sets_where_likelihood_or_a_fix_fails():
    rows = [{"OOD set": "shapes", "more likely than the median test image": 0.25, "AUROC bits/dim": 0.7,
             "AUROC complexity S(x), PNG": 0.9, "AUROC complexity S(x), zlib": 0.95, "AUROC typicality": 1.0},
            {"OOD set": "noise", "more likely than the median test image": 0.0, "AUROC bits/dim": 1.0,
             "AUROC complexity S(x), PNG": 0.3, "AUROC complexity S(x), zlib": 0.6, "AUROC typicality": 0.2}]
    report = flow.OODReport({}, {}, {}, "digits", 10, rows, images={"shapes": 400, "noise": 400})
    findings = flows_lab.ood_findings(report)
    assert len(findings) == 4
    assert "25.0% of the 400 images of shapes (AUROC 0.700)" in findings[0] and "noise" not in findings[0]
    assert "S(x) with PNG does worse than chance on noise (AUROC 0.300)" in findings[1]    # not with zlib
    assert "typicality test (batches of 10) does worse than chance on noise" in findings[2]
    assert findings[3] == flows_lab.FASHION_NOT_SHOWN and "FashionMNIST" in findings[3]   # no Fashion set offline
    with_fashion = flow.OODReport({}, {}, {}, "mnist", 10, rows, images={"shapes": 400, "fashion-mnist": 400})
    assert flows_lab.FASHION_NOT_SHOWN not in flows_lab.ood_findings(with_fashion)


def test_ood_findings_give_each_set_its_own_verdict():
    """On realnvp-mnist-5k the banner said "Likelihood fails here" over LFW (AUROC 0.991) and constant images (0.988),
    because only the worst set (shapes, 0.021) chose the verdict."""
    row = lambda name, share, auroc: {"OOD set": name, "more likely than the median test image": share,  # noqa: E731
                                      "AUROC bits/dim": auroc, "AUROC complexity S(x), PNG": 0.9,
                                      "AUROC complexity S(x), zlib": 0.9, "AUROC typicality": 1.0}
    rows = [row("shapes", 1.0, 0.021), row("LFW", 0.01, 0.991), row("constant", 0.012, 0.988), row("noise", 0.0, 1.0)]
    report = flow.OODReport({}, {}, {}, "mnist-5k", 10, rows, images={"shapes": 500, "LFW": 200, "constant": 500})
    fails, works = flows_lab.ood_findings(report)[:2]
    assert fails.startswith("Likelihood fails on shapes:") and "LFW" not in fails and "constant" not in fails
    assert works.startswith("Likelihood mostly works") and "on LFW, constant:" in works and "shapes" not in works
    assert "1.0% of the 200 images of LFW (AUROC 0.991)" in works


def test_the_ood_histogram_gives_its_bins_to_the_overlap_and_counts_what_lies_far_beyond():
    """Uniform noise at 55 bits/dim squeezed the test set's 1.5-3 bits/dim into 3-4 bins of 60. The axis now
    ends a few test-set spreads past it; the noise is one bar at the end, its share in the legend."""
    from dgm_core.figures.flow import OOD_AXIS_SPREADS, ood_histogram_figure

    rng = np.random.default_rng(0)
    test = rng.uniform(1.5, 3.0, 400)
    sets = {"digits": test, "shapes": rng.uniform(1.9, 10.0, 400), "uniform noise": rng.uniform(8.6, 57.0, 400)}
    figure = ood_histogram_figure(sets, "digits", "bits/dim")
    centres = np.asarray(figure.data[0].x)
    width = centres[1] - centres[0]
    inside = ((centres > test.min()) & (centres < test.max())).sum()
    assert inside >= 12, inside                               # was 3-4 bins with the axis to 57
    q1, q99 = np.percentile(test, [1, 99])
    assert centres[-1] + width / 2 == pytest.approx(q99 + OOD_AXIS_SPREADS * (q99 - q1))
    names = [t.name for t in figure.data]
    noise_beyond = np.mean(sets["uniform noise"] > centres[-1] + width / 2)
    assert names[2] == f"uniform noise; {100 * noise_beyond:.0f} % past {centres[-1] + width / 2:.3g}, in the last bar"
    assert names[0] == "digits (test set of the training data)"     # nothing of it lies beyond
    for trace in figure.data:
        assert sum(trace.y) == pytest.approx(100)                # every image counted once, the far ones at the end


def test_the_gmm_baseline_is_counted_in_the_flow_s_logit_space_like_the_flow():
    """One full Gaussian, checked against scipy: its log density of w = logit(α + (1 − 2α)(k + u)/L), plus the
    logit's log-determinant, minus D log L, is the bound the baseline reports; and the mixture kept is the
    one with the best held-out score, never chosen on the test images."""
    from scipy.stats import multivariate_normal

    from dgm_core.flow import gmm_baseline
    from dgm_core.flow.baseline import VALIDATION

    gen = torch.Generator().manual_seed(0)
    levels, alpha = 5, 0.05
    train = torch.randint(levels, (300, 1, 2, 2), generator=gen).float() / (levels - 1)
    test = torch.randint(levels, (80, 1, 2, 2), generator=gen).float() / (levels - 1)
    result = gmm_baseline(train, test, levels, alpha, candidates=(("full", 1),), seed=3)
    # the same draws, by hand
    rng = np.random.default_rng(3)
    order = rng.permutation(len(train))
    held = int(round(VALIDATION * len(train)))

    def logit_space(images):
        k = torch.round(images * (levels - 1)).flatten(1).double().numpy()
        y = (k + rng.random(k.shape)) / levels
        s = alpha + (1 - 2 * alpha) * y
        return np.log(s) - np.log1p(-s), (np.log(1 - 2 * alpha) - np.log(s) - np.log1p(-s)).sum(1)

    w_fit, _ = logit_space(train[order[held:]])
    logit_space(train[order[:held]])
    w_test, log_det = logit_space(test)
    gaussian = multivariate_normal(w_fit.mean(0), np.cov(w_fit, rowvar=False, bias=True) + 1e-3 * np.eye(4))
    expected = -(gaussian.logpdf(w_test) + log_det - 4 * math.log(levels)).mean() / (4 * math.log(2))
    assert result["bits_per_dim"] == pytest.approx(expected, rel=1e-6)
    chosen = gmm_baseline(train, test, levels, alpha, seed=3)
    best = min(chosen["validation"], key=chosen["validation"].get)
    assert best == f"{chosen['covariance']}, {chosen['components']}"
