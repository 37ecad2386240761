"""The live 2-D trainer as the GAN page and the Space run it: the fast step against a textbook
PyTorch step (the oracle), refreshes bounded by work and never overlapping, thinned curves, and
the figures a class reads (colour bars, legends, a readable FID chart)."""
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dgm_core import gan
from dgm_core.figures.gan import fid_curves_figure, loss_curves_figure, thin
from dgm_core.figures.style import MODEL_COLOURS
from dgm_core.figures.toy2d import live_panel_figure
from dgm_core.labs import gans as gans_lab


def as_sequential(mlp: gan.ToyMLP) -> nn.Sequential:
    """The same network as nn.Linear layers (weights transposed), for the textbook oracle."""
    layers = []
    for i, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        linear = nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(w.t())
            linear.bias.copy_(b)
        layers += [linear] + ([nn.ReLU()] if i < len(mlp.weights) - 1 else [])
    return nn.Sequential(*layers)


def test_toy_mlp_is_linear_relu_layers_initialised_like_nn_linear():
    mlp = gan.ToyMLP(2, 3, 16, generator=torch.Generator().manual_seed(0))
    x = torch.randn(40, 2)
    assert torch.allclose(mlp(x), as_sequential(mlp)(x), atol=1e-6)
    big = gan.ToyMLP(64, 1, 400, generator=torch.Generator().manual_seed(1))
    w = big.weights[1].detach()                  # nn.Linear: U(−1/√fan_in, 1/√fan_in), variance 1/(3 fan_in)
    assert w.abs().max() <= 400 ** -0.5 and w.var().item() == pytest.approx(1 / (3 * 400), rel=0.02)


@pytest.mark.parametrize("kind, generator_loss, layers", [
    ("gan", "non-saturating", 2), ("gan", "saturating", 2), ("wgan", "non-saturating", 2),
    ("wgan-gp", "non-saturating", 2), ("gan", "non-saturating", 1)])
def test_fast_step_equals_the_textbook_step(kind, generator_loss, layers, monkeypatch):
    """Same batches, same weights: the lab's step (hand-written backpropagation, the penalty's
    second derivative by hand, Adam / RMSprop on flat vectors, batched draws) must move the
    parameters as nn.Sequential + torch.optim + loss.backward (autograd, double backward for the
    penalty) do, for every objective. (Deeper networks are checked gradient by gradient in float64
    below: after Adam, whose step is ±lr whatever the gradient's size, float32 rounding of a
    near-zero gradient can flip a parameter's step, which says nothing about the mathematics.)"""
    config = gan.default_config(kind, hidden=16, batch_size=32, n_critic=1 if kind == "gan" else 3,
                                generator_loss=generator_loss, layers=layers)
    model = gan.ToyGAN(config)
    g, d = as_sequential(model.generator), as_sequential(model.critic)
    data = torch.Generator().manual_seed(7)
    draws = {"real": [], "noise": [], "eps": []}

    def real_batch(n=None):
        draws["real"].append(torch.randn(n or config.batch_size, 2, generator=data))
        return draws["real"][-1]

    def noise(n=None):
        draws["noise"].append(torch.randn(n or config.batch_size, 2, generator=data))
        return draws["noise"][-1]

    monkeypatch.setattr(model, "real_batch", real_batch)
    monkeypatch.setattr(model, "noise", noise)
    model.rng = torch.Generator().manual_seed(3)          # the penalty's ε
    eps_rng = torch.Generator().manual_seed(3)
    for _ in range(3):
        model.step()
    if kind == "wgan":
        opt_g, opt_d = (torch.optim.RMSprop(m.parameters(), lr=lr) for m, lr in
                        ((g, config.lr_generator), (d, config.lr_critic)))
    else:
        betas = (0.5, 0.9) if kind == "wgan-gp" else (0.5, 0.999)
        opt_g = torch.optim.Adam(g.parameters(), lr=config.lr_generator, betas=betas)
        opt_d = torch.optim.Adam(d.parameters(), lr=config.lr_critic, betas=betas)
    b = config.batch_size
    for step in range(3):
        reals, noises = draws["real"][step].split(b), draws["noise"][2 * step].split(b)
        for real, z in zip(reals, noises):
            fake = g(z).detach()
            if kind == "gan":
                loss = F.binary_cross_entropy_with_logits(d(real), torch.ones(b, 1)) + \
                    F.binary_cross_entropy_with_logits(d(fake), torch.zeros(b, 1))
            else:
                loss = d(fake).mean() - d(real).mean()
                if kind == "wgan-gp":
                    eps = torch.rand(b, 1, generator=eps_rng)
                    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
                    grad, = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
                    loss = loss + config.gp_lambda * ((grad.norm(dim=1) - 1) ** 2).mean()
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
            if kind == "wgan":
                for p in d.parameters():
                    p.data.clamp_(-config.clip, config.clip)
        out = d(g(draws["noise"][2 * step + 1]))
        if kind != "gan":
            loss_g = -out.mean()
        elif generator_loss == "non-saturating":
            loss_g = F.binary_cross_entropy_with_logits(out, torch.ones(b, 1))      # −E log σ(D)
        else:
            loss_g = -F.binary_cross_entropy_with_logits(out, torch.zeros(b, 1))    # E log(1 − σ(D))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    for fast, textbook in ((model.generator, g), (model.critic, d)):
        expected = as_sequential(fast)
        for a, e in zip(expected.parameters(), textbook.parameters()):
            assert torch.allclose(a, e, atol=1e-5), (kind, (a - e).abs().max())


def _double_mlp(n_in, n_out, hidden, layers, seed):
    mlp = gan.ToyMLP(n_in, n_out, hidden, layers, generator=torch.Generator().manual_seed(seed)).double()
    return mlp, torch.randn(50, n_in, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
def test_hand_written_backpropagation_equals_autograd(layers):
    """Oracle: autograd's gradients of Σ δ ⊙ out with respect to every weight, bias and the input."""
    mlp, x = _double_mlp(2, 3, 12, layers, seed=layers)
    delta = torch.randn(50, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    x.requires_grad_(True)
    (mlp(x) * delta).sum().backward()
    with torch.no_grad():
        weights, biases = mlp.views(mlp.flat.detach())
        grad = torch.zeros_like(mlp.flat)
        grad_weights, grad_biases = mlp.views(grad)
        d_x = gan.mlp_backward(weights, gan.mlp_forward(weights, biases, x.detach()), delta, grad_weights,
                               grad_biases, input_gradient=True)
    assert torch.allclose(grad, mlp.flat.grad, atol=1e-12, rtol=1e-10)
    assert torch.allclose(d_x, x.grad, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
def test_hand_written_gradient_penalty_and_its_gradient_equal_autograd(layers):
    """Oracle: P = E(‖∇_x D‖ − 1)² by autograd.grad with create_graph, and ∂P/∂θ by a second
    backward (double backpropagation, as gradient_penalty does in training)."""
    critic, x = _double_mlp(2, 1, 12, layers, seed=10 + layers)
    x.requires_grad_(True)
    g, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    expected = (g.norm(dim=1) - 1).pow(2).mean()
    expected.backward()
    with torch.no_grad():
        weights, biases = critic.views(critic.flat.detach())
        grad = torch.zeros_like(critic.flat)
        penalty = gan.penalty_backward(weights, gan.mlp_forward(weights, biases, x.detach()), 2.5,
                                       critic.views(grad)[0])
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.allclose(grad, 2.5 * critic.flat.grad, atol=1e-12, rtol=1e-10)
    assert critic.flat.grad.abs().max() > 1e-3             # the oracle is not trivially zero


@pytest.mark.parametrize("optimiser", ["adam", "rmsprop"])
def test_flat_optimisers_equal_torch_optim(optimiser):
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(40, generator=generator, dtype=torch.float64)
    ours, theirs = start.clone(), torch.nn.Parameter(start.clone())
    if optimiser == "adam":
        flat, reference = gan.FlatAdam(ours, 1e-2, (0.5, 0.9)), torch.optim.Adam([theirs], lr=1e-2, betas=(0.5, 0.9))
    else:
        flat, reference = gan.FlatRMSprop(ours, 1e-2), torch.optim.RMSprop([theirs], lr=1e-2)
    for _ in range(25):
        grad = torch.randn(40, generator=generator, dtype=torch.float64) * 3
        flat.step(grad)
        theirs.grad = grad.clone()
        reference.step()
    assert torch.allclose(ours, theirs.detach(), atol=1e-12, rtol=1e-10)
    assert not torch.allclose(ours, start)


def test_a_refresh_is_bounded_by_its_time_budget_and_keeps_lockstep():
    live = gan.side_by_side({k: gan.default_config(k) for k in gan.KINDS})
    done = live.advance(10**6, seconds=0.05)          # a million steps asked for, a twentieth of a second given
    assert 1 <= done < 10**6
    assert {m.steps for m in live.models.values()} == {done}
    assert live.steps == done
    assert live.advance(5) == 5 and live.steps == done + 5        # no budget: exactly the steps asked for


def test_two_refreshes_never_train_the_same_models_at_once(monkeypatch):
    """Streamlit can start a new script run while an interrupted one is still in torch code; the
    page then advanced the same models from two threads ("modified by an inplace operation")."""
    inside, overlaps = [0], []
    real_step = gan.ToyGAN.step

    def step(self):
        inside[0] += 1
        if inside[0] > 1:
            overlaps.append(self.steps)
        try:
            return real_step(self)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(gan.ToyGAN, "step", step)
    live = gan.side_by_side({k: gan.default_config(k, hidden=8, batch_size=16) for k in gan.KINDS})
    errors = []

    def refresh():
        try:
            for _ in range(10):
                live.advance(5)
                live.view()
        except Exception as exc:          # noqa: BLE001 - any failure in a thread must reach the test
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not overlaps
    assert live.steps == 3 * 10 * 5


def test_coverage_and_drawing_are_computed_once_per_refresh_not_per_step(monkeypatch):
    calls = {"coverage": 0, "field": 0}
    real_coverage, real_field = gan.ToyGAN.mode_coverage, gan.ToyGAN.critic_field

    def coverage(self, *a, **k):
        calls["coverage"] += 1
        return real_coverage(self, *a, **k)

    def field_(self, *a, **k):
        calls["field"] += 1
        return real_field(self, *a, **k)

    monkeypatch.setattr(gan.ToyGAN, "mode_coverage", coverage)
    monkeypatch.setattr(gan.ToyGAN, "critic_field", field_)
    live = gan.side_by_side({k: gan.default_config(k) for k in gan.KINDS})
    assert calls == {"coverage": 3, "field": 0}              # step 0, measured once so the table opens filled
    live.advance(40)
    assert calls == {"coverage": 6, "field": 0}              # then once for the 40 steps of one refresh
    live.view()
    assert calls == {"coverage": 6, "field": 3}


def test_curves_are_thinned_to_a_fixed_number_of_points():
    steps = list(range(1, 10_001))
    values = np.random.default_rng(0).normal(size=10_000).tolist()
    xs, ys = thin(steps, values, limit=400)
    assert len(xs) == len(ys) == 400
    assert ys[0] == pytest.approx(np.mean(values[:25])) and xs[-1] == pytest.approx(np.mean(steps[-25:]))
    assert thin(steps[:50], values[:50], limit=400) == (steps[:50], values[:50])
    history = [{"step": s, "loss_d": v, "loss_g": v, "wasserstein": v} for s, v in zip(steps, values)]
    figure = loss_curves_figure({"wgan": history})
    assert all(len(trace.x) == 400 for trace in figure.data)
    assert "generator update" in figure.layout.xaxis.title.text


def test_live_panels_have_a_colour_bar_a_legend_and_a_short_title():
    live = gan.side_by_side({k: gan.default_config(k) for k in gan.KINDS})
    live.advance(2)
    real = live.models["gan"].pool[:100].numpy()
    for _kind, view in live.view().items():
        figure = live_panel_figure(view, real, MODEL_COLOURS[_kind])
        heatmap = figure.data[0]
        assert heatmap.showscale is not False and heatmap.colorbar.title.text in ("σ(D(x))", "critic D(x)")
        shown = [t.name for t in figure.data[1:] if t.showlegend is not False]
        assert figure.layout.showlegend and {"real data", "generated"} <= set(shown)
        assert len(figure.layout.title.text) <= 28, figure.layout.title.text
    assert (live.view()["gan"].field.values.max() <= 1
            and live_panel_figure(live.view()["gan"], real, MODEL_COLOURS["gan"]).data[0].zmax == 1)


def test_fid_chart_places_the_real_vs_real_label_on_its_log_axis():
    """On a log axis plotly reads an annotation's y in log10 units: a label at y = 36.4 sat at
    10^36.4 and squashed the three curves into a flat line."""
    histories = {"gan": [{"epochs": [{"epoch": e, "generator_updates": 23 * e, "fid_classifier": 300.0 / e}
                                     for e in range(1, 11)]}]}
    figure = fid_curves_figure(histories, 36.4, "classifier features")
    highest = np.log10(300.0)
    for annotation in figure.layout.annotations:
        assert annotation.y is None or annotation.y <= highest + 0.5, annotation.y
    assert any(a.text and "real vs real" in a.text and a.y == pytest.approx(np.log10(36.4)) for a in figure.layout.annotations)
    assert [t.name for t in figure.data] == ["GAN"]


def test_settings_in_force_are_described():
    configs = {k: gan.default_config(k, dataset="moons", n_critic=3, clip=0.05) for k in gan.KINDS}
    text = gans_lab.describe_settings(configs)
    assert "data moons" in text and "n_critic 3" in text and "clip c 0.05" in text and "λ 0.1" in text
    assert "wgan 0.0005 / 0.0005" in text


@pytest.mark.slow
def test_wgan_gp_covers_all_eight_modes_within_2000_steps_at_default_settings():
    """Bounded by work, not by a clock: at most 2,000 generator updates (it took 1,100)."""
    model = gan.ToyGAN(gan.default_config("wgan-gp"))
    captured = []
    while model.steps < 2000 and (not captured or captured[-1] < 8):
        model.train(100)
        captured.append(model.mode_coverage()["captured"])
    print(f"WGAN-GP modes captured every 100 steps: {captured}")
    assert captured[-1] == 8


@pytest.mark.slow
def test_the_live_wgan_covers_modes_at_its_default_clip_and_not_at_the_papers():
    """Bounded by work: 6,000 generator updates each. At c = 0.01 the 64-unit critic is almost flat
    and the clipped WGAN captured 0 of 8 modes within 3σ; at the default c it must capture most."""
    def captured_after(clip):
        model = gan.ToyGAN(gan.default_config("wgan", clip=clip))
        model.train(6000)
        return model.mode_coverage()

    default, tight = captured_after(gans_lab.DEFAULT_CLIP), captured_after(0.01)
    print(f"c = {gans_lab.DEFAULT_CLIP}: {default}; c = 0.01: {tight}")
    assert default["captured"] >= 5 and default["captured_loose"] == 8
    assert tight["captured"] <= 1 < default["captured"]
