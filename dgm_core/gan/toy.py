"""GAN, WGAN and WGAN-GP on 2-D toy data, trained live: the small MLPs, their hand-written backward pass,
`ToyGAN` (a steppable trainer on the dgm_core.live protocol) and mode coverage.

Read top to bottom: the MLP whose weights are views of one flat vector; the backward pass written out;
the flat optimisers; the config and the trainer; `side_by_side`, the three models as one live session;
and `mode_coverage`, how many modes of a Gaussian mixture the samples reach.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from dgm_core.data import sample_toy, toy_modes
from dgm_core.gan.objectives import (
    KINDS,
    critic_generator_loss,
    critic_loss,
    discriminator_loss,
    generator_loss_non_saturating,
    generator_loss_saturating,
)
from dgm_core.live import PANEL_POINTS, Field, LiveSession, LiveView


class ToyMLP(nn.Module):
    """Linear → ReLU → … → Linear for the live 2-D panels; no batch norm, so the WGAN-GP penalty,
    which is per sample, stays valid. The initialisation is nn.Linear's, U(±1/√fan_in) for weights
    and biases, drawn from the caller's generator so that nothing touches torch's global seed.

    Why not nn.Sequential of nn.Linear: at this size (64 units, batches of 128) a training step
    costs per call, not per multiplication. So every weight (stored (in, out), so a layer is one
    `addmm(b, x, W)`) and bias is a view of one flat parameter vector `flat`, and the live trainer
    (`ToyGAN.step`) writes its gradients by hand into one flat gradient of the same layout: an
    optimiser step is then a few elementwise operations on one vector. `forward` is an ordinary
    differentiable module for everything else (the critic's field, the gradient arrows, the tests)."""

    def __init__(self, n_in: int, n_out: int, hidden: int, layers: int = 2,
                 generator: torch.Generator | None = None):
        super().__init__()
        sizes = [n_in] + [hidden] * layers + [n_out]
        self.shapes = list(zip(sizes, sizes[1:]))
        chunks = []
        for fan_in, fan_out in self.shapes:
            bound = fan_in ** -0.5
            chunks.append(((torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound).flatten())
            chunks.append((torch.rand(fan_out, generator=generator) * 2 - 1) * bound)
        self.flat = nn.Parameter(torch.cat(chunks))

    def views(self, vector: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The layers' weights (in, out) and biases as views of `vector`: the parameters, or a
        gradient laid out like them."""
        weights, biases, at = [], [], 0
        for fan_in, fan_out in self.shapes:
            weights.append(vector[at:at + fan_in * fan_out].view(fan_in, fan_out))
            at += fan_in * fan_out
            biases.append(vector[at:at + fan_out])
            at += fan_out
        return weights, biases

    @property
    def weights(self) -> list[torch.Tensor]:
        return self.views(self.flat)[0]

    @property
    def biases(self) -> list[torch.Tensor]:
        return self.views(self.flat)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights, biases = self.views(self.flat)
        last = len(weights) - 1
        for i, (w, b) in enumerate(zip(weights, biases)):
            x = torch.addmm(b, x, w)
            if i < last:
                x = x.relu()
        return x


# The live trainer's hand-written backpropagation. For layers h_{j+1} = relu(h_j W_j + b_j)
# (no ReLU after the last), activations h_0 = x, …, h_L = out, and δ = ∂L/∂out:
#     ∂L/∂W_j = h_jᵀ δ_j,   ∂L/∂b_j = Σ_rows δ_j,   δ_{j−1} = (δ_j W_jᵀ) ⊙ [h_j > 0],
# the chain rule through Linear and ReLU that autograd applies; tests/test_gan_live.py checks the
# whole step against nn.Linear + loss.backward + torch.optim.
def relu_backward(d: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """d ⊙ [h > 0] for h = relu(·), in the one fused kernel autograd itself uses for ReLU
    (a comparison and a multiplication cost several times more at this size)."""
    return torch.ops.aten.threshold_backward(d, h, 0)


def mlp_forward(weights, biases, x: torch.Tensor) -> list[torch.Tensor]:
    """The activations [x, h_1, …, h_{L−1}, out] (hidden ones after their ReLU)."""
    acts, last = [x], len(weights) - 1
    for j, (w, b) in enumerate(zip(weights, biases)):
        h = torch.addmm(b, acts[-1], w)
        acts.append(h.relu_() if j < last else h)
    return acts


def mlp_backward(weights, acts, d_out: torch.Tensor, grad_weights=None, grad_biases=None,
                 input_gradient: bool = False) -> torch.Tensor | None:
    """Backpropagate δ = ∂L/∂out: write ∂L/∂W_j and ∂L/∂b_j into the given gradient views (when
    given) and return ∂L/∂x (when `input_gradient`)."""
    d = d_out
    for j in range(len(weights) - 1, -1, -1):
        if grad_weights is not None:
            torch.mm(acts[j].t(), d, out=grad_weights[j])
            torch.sum(d, 0, out=grad_biases[j])
        if j == 0 and not input_gradient:
            return None
        d = d.mm(weights[j].t())
        if j > 0:
            d = relu_backward(d, acts[j])
    return d


def penalty_backward(weights, acts, scale: float, grad_weights) -> torch.Tensor:
    """WGAN-GP's penalty P = E[(‖∇_x D(x̂)‖₂ − 1)²] at the points acts[0] = x̂, and scale · ∂P/∂W_j
    added into `grad_weights`; returns P.

    ∇_x D is the backward pass above with δ = 1: t_{L−1} = 1·W_{L−1}ᵀ, s_{j−1} = t_j ⊙ [h_j > 0],
    t_j = s_j W_jᵀ, ∇_x D = t_0. It is linear in every W_j with the ReLU masks fixed (their
    derivative is zero almost everywhere, and the biases enter only through them, so they get no
    gradient from P), so differentiating the chain once more, from dt_0 = ∂P/∂(∇_x D):
        ∂P/∂W_j += dt_jᵀ s_j,   dt_{j+1} = (dt_j W_j) ⊙ [h_{j+1} > 0]   (s_{L−1} = 1)."""
    n = acts[0].shape[0]
    s = [None] * len(weights)
    s[-1] = torch.ones(n, 1, dtype=acts[0].dtype)
    t = None
    for j in range(len(weights) - 1, -1, -1):
        t = s[j].mm(weights[j].t())
        if j > 0:
            s[j - 1] = relu_backward(t, acts[j])
    norm = t.norm(dim=1, keepdim=True)
    penalty = (norm - 1).pow(2).mean()
    dt = t * ((norm - 1) * (2.0 / n) / norm.clamp_min(1e-12))
    for j in range(len(weights)):
        grad_weights[j].addmm_(dt.t(), s[j], alpha=scale)
        if j < len(weights) - 1:
            dt = relu_backward(dt.mm(weights[j]), acts[j + 1])
    return penalty


class FlatAdam:
    """torch.optim.Adam (Kingma & Ba, 2015, Algorithm 1; no weight decay) on one flat vector:
        m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  p ← p − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)."""

    def __init__(self, parameters: torch.Tensor, lr: float, betas: tuple[float, float], eps: float = 1e-8):
        self.p, self.lr, (self.beta1, self.beta2), self.eps, self.t = parameters, lr, betas, eps, 0
        self.m, self.v = torch.zeros_like(parameters), torch.zeros_like(parameters)

    def step(self, grad: torch.Tensor) -> None:
        self.t += 1
        self.m.lerp_(grad, 1 - self.beta1)
        self.v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        denom = self.v.sqrt().div_(math.sqrt(1 - self.beta2 ** self.t)).add_(self.eps)
        self.p.addcdiv_(self.m, denom, value=-self.lr / (1 - self.beta1 ** self.t))


class FlatRMSprop:
    """torch.optim.RMSprop (Tieleman & Hinton, 2012; α = 0.99, no momentum) on one flat vector:
        v ← αv + (1 − α)g²,  p ← p − lr · g / (√v + ε)."""

    def __init__(self, parameters: torch.Tensor, lr: float, alpha: float = 0.99, eps: float = 1e-8):
        self.p, self.lr, self.alpha, self.eps = parameters, lr, alpha, eps
        self.v = torch.zeros_like(parameters)

    def step(self, grad: torch.Tensor) -> None:
        self.v.mul_(self.alpha).addcmul_(grad, grad, value=1 - self.alpha)
        self.p.addcdiv_(grad, self.v.sqrt().add_(self.eps), value=-self.lr)


# ---------------------------------------------------------------- the steppable 2-D trainer
@dataclass(frozen=True)
class ToyGANConfig:
    """One model of the live side-by-side panel.

    What follows the papers: the objectives, and the optimisers (GAN: Adam β = (0.5, 0.999); WGAN:
    RMSprop, weight clipping; WGAN-GP: Adam β = (0.5, 0.9) and λ = 0.1, Gulrajani et al.'s toy
    setting); 5 critic updates per generator update for both WGANs.
    What does not, so that three models train live on a laptop CPU: the networks (2 hidden layers
    of 64 units, not 3 of 512), the batch (128, not 256) and the learning rates (1e-3, 5e-4 for the
    clipped WGAN; the papers use 1e-4 and 5e-5 with many more steps). The clip c = 0.1, not the
    paper's 0.01: c bounds every weight, so its effect on the critic's capacity depends on the
    width, and at 64 units c = 0.01 leaves the critic almost flat (docs/experiments.md). c = 0.01
    stays a choice: the "too tight a clip" lesson (dgm_core.labs.gans.CLIP_LESSON)."""
    kind: str = "gan"
    dataset: str = "8gaussians"
    generator_loss: str = "non-saturating"   # GAN only: or "saturating"
    latent_dim: int = 2
    hidden: int = 64
    layers: int = 2
    batch_size: int = 128
    lr_generator: float = 1e-3
    lr_critic: float = 1e-3
    n_critic: int = 1
    clip: float = 0.1
    gp_lambda: float = 0.1
    seed: int = 0

    def check(self) -> ToyGANConfig:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.generator_loss not in ("non-saturating", "saturating"):
            raise ValueError(f"generator_loss must be 'non-saturating' or 'saturating'; got {self.generator_loss!r}")
        for name in ("lr_generator", "lr_critic", "clip", "gp_lambda"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number; got {value!r}")
        for name, low, high in (("n_critic", 1, 50), ("hidden", 4, 1024), ("layers", 1, 8),
                                ("batch_size", 8, 8192), ("latent_dim", 1, 64)):
            value = getattr(self, name)
            if not (isinstance(value, int) and low <= value <= high):
                raise ValueError(f"{name} must be a whole number from {low} to {high}; got {value!r}")
        return self


#: The live panel's default WGAN clip, for its 64-unit critic (ToyGANConfig says why not 0.01).
def default_config(kind: str, **overrides) -> ToyGANConfig:
    """The lab's defaults for each kind (same sizes, seed and data for all three)."""
    per_kind = {"gan": dict(n_critic=1, lr_generator=1e-3, lr_critic=1e-3),
                "wgan": dict(n_critic=5, lr_generator=5e-4, lr_critic=5e-4),
                "wgan-gp": dict(n_critic=5, lr_generator=1e-3, lr_critic=1e-3)}
    return replace(ToyGANConfig(kind=kind), **{**per_kind[kind], **overrides}).check()


@dataclass
class ToyGAN:
    """Generator and discriminator / critic on a 2-D toy distribution, advanced `step` by step.
    One step = `n_critic` discriminator / critic updates, then one generator update.

    Built for speed at the live panel's size, where every call costs more than its arithmetic
    (benchmarks/gan_live.py measures it against a textbook loop): the n_critic real batches,
    noise batches and fakes of a step are drawn in one call each; the critic sees real, fake and
    the penalty's interpolates in one pass; the gradients are written out by hand
    (`mlp_backward`, `penalty_backward`: no autograd graph is built) into flat gradient vectors,
    and Adam / RMSprop update each network's one flat parameter vector. All randomness comes from
    `self.rng`, seeded from the config, so a run is reproducible and no global seed is touched."""
    config: ToyGANConfig
    history: list[dict] = field(default_factory=list)

    def __post_init__(self):
        c = self.config.check()
        init = torch.Generator().manual_seed(c.seed)        # the same initial G (and D) for every kind
        self.generator = ToyMLP(c.latent_dim, 2, c.hidden, c.layers, generator=init)
        self.critic = ToyMLP(2, 1, c.hidden, c.layers, generator=init)
        self.rng = torch.Generator().manual_seed(c.seed)
        self.pool = sample_toy(c.dataset, 100_000, seed=c.seed)
        # The fast path's views: parameters and gradients as views of flat vectors (see ToyMLP).
        g_flat, d_flat = self.generator.flat.detach(), self.critic.flat.detach()
        self._g_grad, self._d_grad = torch.zeros_like(g_flat), torch.zeros_like(d_flat)
        self._g, self._d = self.generator.views(g_flat), self.critic.views(d_flat)
        self._g_grads, self._d_grads = self.generator.views(self._g_grad), self.critic.views(self._d_grad)
        if c.kind == "wgan":
            # RMSprop: momentum-based optimisers made weight-clipped WGANs unstable (Arjovsky et al., §4).
            self.opt_g, self.opt_d = FlatRMSprop(g_flat, c.lr_generator), FlatRMSprop(d_flat, c.lr_critic)
        else:
            betas = (0.5, 0.9) if c.kind == "wgan-gp" else (0.5, 0.999)
            self.opt_g, self.opt_d = FlatAdam(g_flat, c.lr_generator, betas), FlatAdam(d_flat, c.lr_critic, betas)
        b = c.batch_size
        # ∂L_D/∂D on the stacked batch [real; fake]: (σ(D) − target)/b for the GAN (target 1 for
        # real, 0 for fake), the constant [−1/b; +1/b] for the critic loss −E D(x) + E D(G(z)).
        self._real_target = torch.cat([torch.ones(b, 1), torch.zeros(b, 1)]) / b
        self._critic_d_out = torch.cat([-torch.ones(b, 1), torch.ones(b, 1)]) / b
        self.steps = 0

    # -- sampling
    def real_batch(self, n: int | None = None) -> torch.Tensor:
        index = torch.randint(len(self.pool), (n or self.config.batch_size,), generator=self.rng)
        return self.pool[index]

    def noise(self, n: int | None = None) -> torch.Tensor:
        return torch.randn(n or self.config.batch_size, self.config.latent_dim, generator=self.rng)

    @torch.no_grad()
    def samples(self, n: int = 1000, seed: int = 1) -> torch.Tensor:
        z = torch.randn(n, self.config.latent_dim, generator=torch.Generator().manual_seed(seed))
        return self.generator(z)

    # -- one step
    def generator_objective(self, fake_out: torch.Tensor) -> torch.Tensor:
        if self.config.kind == "gan":
            return (generator_loss_non_saturating if self.config.generator_loss == "non-saturating"
                    else generator_loss_saturating)(fake_out)
        return critic_generator_loss(fake_out)

    @torch.no_grad()
    def step(self) -> dict[str, float]:
        """n_critic discriminator / critic updates, then one generator update, with the gradients
        written out (mlp_backward, penalty_backward) and the optimisers on flat vectors."""
        c, b = self.config, self.config.batch_size
        (w_g, b_g), (w_d, b_d) = self._g, self._d
        reals = self.real_batch(c.n_critic * b).split(b)
        fakes = mlp_forward(w_g, b_g, self.noise(c.n_critic * b))[-1].split(b)
        for real, fake in zip(reals, fakes):
            # One pass over real, fake and (WGAN-GP) the interpolates x̂ = ε x + (1 − ε) G(z)
            # together: at this size the cost is per call, not per row.
            batch = [real, fake]
            if c.kind == "wgan-gp":
                batch.append(torch.lerp(fake, real, torch.rand(b, 1, generator=self.rng)))
            acts = mlp_forward(w_d, b_d, torch.cat(batch))
            out = acts[-1][:2 * b]
            d_out = out.sigmoid().div_(b).sub_(self._real_target) if c.kind == "gan" else self._critic_d_out
            mlp_backward(w_d, [a[:2 * b] for a in acts], d_out, *self._d_grads)
            if c.kind == "wgan-gp":
                penalty = penalty_backward(w_d, [a[2 * b:] for a in acts], c.gp_lambda, self._d_grads[0])
            self.opt_d.step(self._d_grad)
            if c.kind == "wgan":
                self.opt_d.p.clamp_(-c.clip, c.clip)
        real_out, fake_out = out.split(b)
        loss_d = discriminator_loss(real_out, fake_out) if c.kind == "gan" else critic_loss(real_out, fake_out)
        if c.kind == "wgan-gp":
            loss_d = loss_d + c.gp_lambda * penalty
        # The generator update: back through the critic to the generated points, then through G.
        g_acts = mlp_forward(w_g, b_g, self.noise())
        d_acts = mlp_forward(w_d, b_d, g_acts[-1])
        scores = d_acts[-1]
        if c.kind != "gan":
            d_scores = torch.full_like(scores, -1 / b)                        # L_G = −E D(G(z))
        elif c.generator_loss == "non-saturating":
            d_scores = scores.sigmoid().sub_(1).div_(b)                       # L_G = E softplus(−D)
        else:
            d_scores = scores.sigmoid().div_(-b)                              # L_G = −E softplus(D)
        d_points = mlp_backward(w_d, d_acts, d_scores, input_gradient=True)
        mlp_backward(w_g, g_acts, d_points, *self._g_grads)
        self.opt_g.step(self._g_grad)
        self.steps += 1
        values = [loss_d, self.generator_objective(scores)]
        if c.kind != "gan":
            # E[D(x)] − E[D(G(z))] on the last critic batch: the critic's Wasserstein estimate
            # (up to the Lipschitz constant of the clipped family for WGAN).
            values.append(real_out.mean() - fake_out.mean())
        record = dict(zip(("loss_d", "loss_g", "wasserstein"), torch.stack(values).tolist()))
        record = {"step": self.steps, **record}
        self.history.append(record)
        return record

    def train(self, steps: int) -> list[dict]:
        return [self.step() for _ in range(steps)]

    # -- what the page draws
    @torch.no_grad()
    def critic_field(self, lim: float = 3.0, resolution: int = 60) -> tuple[np.ndarray, np.ndarray]:
        """The grid axis and D on it: σ(D) (a probability) for the GAN, the critic value for WGANs."""
        axis = np.linspace(-lim, lim, resolution, dtype=np.float32)
        grid = torch.from_numpy(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2))
        values = self.critic(grid).squeeze(1)
        if self.config.kind == "gan":
            values = torch.sigmoid(values)
        return axis, values.numpy().reshape(resolution, resolution)

    def generator_gradient(self, n: int = 150, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Generated points and −∂L_G/∂G(z) at each: the direction the generator loss pushes each
        sample (what the generator's parameters are updated to follow)."""
        z = torch.randn(n, self.config.latent_dim, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            points = self.generator(z)
        points.requires_grad_(True)
        loss = self.generator_objective(self.critic(points))
        grad, = torch.autograd.grad(loss * n, points)    # per sample, not averaged
        return points.detach().numpy(), -grad.numpy()

    def mode_coverage(self, n: int = 2500) -> dict[str, float] | None:
        """For Gaussian-mixture data: see `mode_coverage`."""
        return mode_coverage(self.samples(n).numpy(), self.config.dataset)

    # -- the live-training protocol (dgm_core.live.LiveModel)
    def metrics(self) -> dict[str, float] | None:
        return self.mode_coverage()

    def view(self, n_fake: int = PANEL_POINTS, arrows: int = 120) -> LiveView:
        axis, values = self.critic_field()
        gan = self.config.kind == "gan"
        background = Field(axis, values, "σ(D(x))" if gan else "critic D(x)", *((0.0, 1.0) if gan else (None, None)))
        points, push = self.generator_gradient(arrows)
        return LiveView(self.config.kind, self.steps, background, self.samples(n_fake).numpy(),
                        arrows=(points, push), arrows_label="generator's push")


#: A looser radius for counting modes (in units of x; 10σ for the mixtures' σ = 0.05): a generator
#: whose points sit near every mode but not yet within 3σ of it covers the modes, just not sharply.
LOOSE_RADIUS = 0.5


def mode_coverage(points: np.ndarray, dataset, radius_in_std: float = 3.0,
                  share_of_fair: float = 0.25, loose_radius: float = LOOSE_RADIUS) -> dict[str, float] | None:
    """Modes captured and the share of high-quality samples (after Srivastava et al., 2017):
    a sample is high quality when it lies within 3σ of its nearest mode; a mode is captured when
    it holds at least a quarter of its fair share (n / M) of high-quality samples. The same count
    within `loose_radius` of a mode is `captured_loose`."""
    modes = toy_modes(dataset)
    if modes is None:
        return None
    centres, std = modes
    distance = np.linalg.norm(points[:, None, :] - centres[None], axis=2)
    nearest, closest = distance.argmin(1), distance.min(1)

    def captured(within: np.ndarray) -> int:
        counts = np.bincount(nearest[within], minlength=len(centres))
        return int((counts >= share_of_fair * len(points) / len(centres)).sum())

    good = closest <= radius_in_std * std
    return {"modes": len(centres), "captured": captured(good), "high_quality": float(good.mean()),
            "captured_loose": captured(closest <= loose_radius), "loose_radius": loose_radius}



def side_by_side(configs: dict[str, ToyGANConfig]) -> LiveSession:
    """GAN, WGAN and WGAN-GP on the same toy data, with the same seed and network sizes, as one
    live session (dgm_core.live): advanced together, mode coverage recorded after every advance."""
    models = {kind: ToyGAN(config) for kind, config in configs.items()}
    return LiveSession(models, real=next(iter(models.values())).pool[:PANEL_POINTS].numpy(),
                       step_unit="generator updates")

