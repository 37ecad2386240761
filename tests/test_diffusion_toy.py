"""The 2-D diffusion, score and flow-matching models trained live (dgm_core.diffusion.toy): the settings they
refuse, that each objective learns (the energy distance to held-out data falls, the work counted in steps),
what a panel draws, and the energy distance itself against scipy's."""
import numpy as np
import pytest
import scipy.stats
import torch

from dgm_core.diffusion.toy import KINDS, ToyDiffusion, ToyDiffusionConfig, live_session
from dgm_core.metrics import energy_distance


def test_the_energy_distance_is_scipys_in_one_dimension_and_zero_only_for_equal_samples():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=300), rng.normal(0.5, 1.2, size=200)
    assert energy_distance(u[:, None], v[:, None]) == pytest.approx(scipy.stats.energy_distance(u, v) ** 2, rel=1e-10)
    same = rng.normal(size=(100, 2))
    assert energy_distance(same, same) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="at least 2 points in one dimension"):
        energy_distance(same, same[:, :1])


@pytest.mark.parametrize("setting, value", [("kind", "gan"), ("hidden", 4), ("lr", 1.0), ("batch_size", 0),
                                            ("sampler_steps", 0), ("seed", -1)])
def test_a_setting_outside_its_range_is_refused_with_its_name(setting, value):
    with pytest.raises(ValueError, match=setting):
        ToyDiffusionConfig(**{setting: value})


@pytest.mark.parametrize("kind", KINDS)
def test_each_objective_learns_the_eight_gaussians(kind):
    model = ToyDiffusion(ToyDiffusionConfig(kind=kind, sampler_steps=50))
    before = model.metrics()["energy_distance"]
    for _ in range(1500):
        record = model.step()
    after = model.metrics()["energy_distance"]
    assert np.isfinite(record["loss"]) and model.steps == 1500 and len(model.history) == 1500
    # two draws of the data itself are 0.006 apart; an untrained model is 0.24 (flows) to thousands (DDPM)
    assert after < 0.5 * before and after < 0.2, (kind, before, after)


def test_a_panel_draws_samples_the_field_as_arrows_and_the_noised_law_on_a_mixture():
    model = ToyDiffusion(ToyDiffusionConfig(kind="flow", sampler_steps=10))
    view = model.view(time=0.3)
    assert view.points.shape == (300, 2) and view.arrows[0].shape == (225, 2) and view.arrows[1].shape == (225, 2)
    assert view.field is not None and "noised data" in view.field.label and "velocity v at time 0.30" == view.arrows_label
    # the arrows are the learned field at that time, at their starts
    starts, directions = view.arrows
    assert torch.allclose(model.field_at(torch.from_numpy(starts), 0.3), torch.from_numpy(directions))
    assert ToyDiffusion(ToyDiffusionConfig(kind="ddpm", dataset="moons")).view().field is None


def test_the_details_hold_the_field_at_every_time_and_paths_from_noise_to_data():
    from dgm_core.diffusion.toy import FIELD_TIMES, PATH_POINTS, TRAJECTORIES

    for kind, sampler in (("ddpm", "DDIM"), ("score", "annealed Langevin"), ("flow-ot", "Euler")):
        model = ToyDiffusion(ToyDiffusionConfig(kind=kind, sampler_steps=20))
        details = model.details()
        assert set(details["fields"]) == set(FIELD_TIMES) and details["path_sampler"] == sampler
        (starts, directions), background, label = details["fields"][0.5]
        assert torch.allclose(model.field_at(torch.from_numpy(starts), 0.5), torch.from_numpy(directions))
        assert background is not None and ("(time 0.44)" if kind == "score" else "time 0.50") in label
        paths = details["paths"]
        assert paths.shape[0] == TRAJECTORIES and 2 <= paths.shape[1] <= PATH_POINTS
        # a path runs from the sampler's noise to its sample: the panel's own samples where the path sampler is the
        # panel's, else a draw of the path sampler itself
        end = (model.view().points[:TRAJECTORIES] if kind != "ddpm" else
               model.sample(TRAJECTORIES, generator=torch.Generator().manual_seed(2), sampler=sampler).numpy())
        assert np.allclose(paths[:, -1], end, atol=1e-5)
        ratio = details["straightness"]
        assert (ratio is None) == (kind == "score") and (ratio is None or ratio[0] >= 1.0)


def test_what_a_panel_draws_is_computed_once_per_step_and_the_distance_every_hundred_steps():
    """Counts, not times: a snapshot asks for the view and the details several times a second."""
    from dgm_core.diffusion.toy import METRIC_EVERY

    model = ToyDiffusion(ToyDiffusionConfig(kind="flow", sampler_steps=5))
    calls = []
    forward = model.net.forward
    model.net.forward = lambda *args: calls.append(1) or forward(*args)
    model.view(), model.details(), model.view(), model.details()
    once = len(calls)
    assert once == 5 + 11          # one Euler run (samples and paths together) and the field at 11 times
    model.step()
    calls.clear()
    model.view(), model.details()
    assert len(calls) == once       # drawn again after a step, once
    measured = [model.metrics() is not None]
    for _ in range(METRIC_EVERY):
        model.step()
        measured.append(model.metrics() is not None)
    assert measured == [True] + [False] * (METRIC_EVERY - 1) + [True]


def test_the_session_trains_every_kind_in_lockstep_from_the_same_data():
    session = live_session({kind: ToyDiffusionConfig(kind=kind, hidden=32) for kind in KINDS})
    session.advance(5)
    assert {m.steps for m in session.models.values()} == {5}
    pools = [m.pool for m in session.models.values()]
    assert all(torch.equal(pools[0], p) for p in pools[1:])


# ------------------------------------------------------------------ what the lab measures (dgm_core.diffusion.measures)
def test_calls_to_reach_picks_the_fewest_calls_within_the_margin_of_the_best():
    from dgm_core.diffusion.measures import calls_to_reach

    rows = [{"model": "m", "sampler": "s", "model calls": c, "energy distance": e}
            for c, e in ((5, 0.30), (10, 0.12), (20, 0.051), (50, 0.050), (100, 0.049))]
    assert calls_to_reach(rows, margin=0.005) == {("m", "s"): 20}
    assert calls_to_reach(rows, margin=0.0) == {("m", "s"): 100}


def test_a_trained_ddpm_learns_the_true_score_away_from_the_data_and_ddim_samples_it():
    from dgm_core.diffusion.measures import data_floor, path_straightness, quality_against_calls, score_error_by_time

    model = ToyDiffusion(ToyDiffusionConfig(kind="ddpm"))
    for _ in range(1500):
        model.step()
    errors = {r["time"]: r["relative error"] for r in score_error_by_time(model, [0.3, 0.6])}
    assert all(e < 0.2 for e in errors.values()), errors          # a few % of the true score's size
    rows = quality_against_calls({"ddpm": model}, [50], seeds=2, n=500)
    assert [(r["sampler"], r["model calls"]) for r in rows] == [("DDPM ancestral", 50), ("DDIM", 50)]
    floor, _ = data_floor(model)
    assert all(r["energy distance"] < 0.15 for r in rows) and floor < 0.02
    mean, _ = path_straightness(model, 20, "DDIM")
    assert mean >= 1.0
    with pytest.raises(ValueError, match="adds noise at every step"):
        path_straightness(model, 20, "DDPM ancestral")
    with pytest.raises(ValueError, match="samples by DDPM ancestral or DDIM, not Euler"):
        model.sample(10, 5, sampler="Euler")
    with pytest.raises(ValueError, match="learns a velocity"):
        score_error_by_time(ToyDiffusion(ToyDiffusionConfig(kind="flow", hidden=16)), [0.5])


def test_the_toy_likelihood_through_the_ode_is_the_closed_form_for_exact_gaussian_networks():
    """With its network replaced by the exact ε (DDPM, at the timestep index it is given) or velocity (flow) of data
    N(μ, s² I), the toy's ODE likelihood is the closed-form density (scipy): for DDPM, of the data noised to the
    first step's σ̄; for the flow, of the data itself."""
    import math

    from scipy import stats

    from dgm_core.diffusion.schedules import cosine_schedule

    mean, std = torch.tensor([0.5, -0.25], dtype=torch.float64), 0.4
    x = mean + std * torch.randn(30, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ddpm = ToyDiffusion(ToyDiffusionConfig(kind="ddpm"))
    schedule = cosine_schedule(1000)

    def exact_eps(x, c):
        index = c.double() * 1000
        lower = index.floor().clamp(0, 998).long()
        frac = (index - lower).reshape(-1, 1)
        a = (1 - frac) * schedule.alpha_bar(lower).reshape(-1, 1) + frac * schedule.alpha_bar(lower + 1).reshape(-1, 1)
        return (1 - a).sqrt() * (x - a.sqrt() * mean) / (a * std ** 2 + 1 - a)

    ddpm.net = exact_eps
    a0 = float(schedule.alpha_bar(0))
    closed = stats.multivariate_normal(math.sqrt(a0) * mean.numpy(), (a0 * std ** 2 + 1 - a0) * np.eye(2)).logpdf(x.numpy())
    ours = ddpm.log_likelihood(x, steps=60).numpy()
    # the schedule interpolated between indices stands in for the continuous one: a few thousandths of a nat
    assert np.allclose(ours, closed, atol=0.02), np.abs(ours - closed).max()

    flow = ToyDiffusion(ToyDiffusionConfig(kind="flow"))

    def exact_velocity(x, t):
        t = t.reshape(-1, 1).to(x.dtype)
        var = (1 - t) ** 2 + t ** 2 * std ** 2
        return mean + (t * std ** 2 - (1 - t)) / var * (x - t * mean)

    flow.net = exact_velocity
    closed = stats.multivariate_normal(mean.numpy(), std ** 2 * np.eye(2)).logpdf(x.numpy())
    assert np.allclose(flow.log_likelihood(x, steps=40).numpy(), closed, atol=1e-3)
    assert ToyDiffusion(ToyDiffusionConfig(kind="score")).log_likelihood(x) is None
