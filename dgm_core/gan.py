"""Generative adversarial networks: GAN (Goodfellow et al., 2014), WGAN with weight clipping
(Arjovsky et al., 2017) and WGAN-GP (Gulrajani et al., 2017), on 2-D toy data.

Read top to bottom: the objectives, written once each; the small MLP generator and
discriminator / critic; `ToyGAN`, a steppable trainer the page advances a few steps per refresh;
and what the page draws from it (the critic's field, the generator's gradient, mode coverage).

Notation: D(x) is the discriminator's logit (GAN) or the critic's value (WGAN); σ the logistic
function, so the GAN discriminator's probability is σ(D(x)); G(z) the generator, z ~ N(0, I).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.data import sample_toy, toy_modes
from dgm_core.hub import HubModel
from dgm_core.live import PANEL_POINTS, Field, LiveSession, LiveView

KINDS = ("gan", "wgan", "wgan-gp")


# ----------------------------------------------------------------------------- objectives
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))] (Goodfellow et al., eq. 1), using
    −log σ(l) = softplus(−l) and −log(1 − σ(l)) = softplus(l) for numerical stability."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_G = E[log(1 − σ(D(G(z))))], the minimax generator loss. When D rejects the fakes
    confidently (σ(D) → 0) its gradient σ(D)·∂D vanishes: the loss saturates."""
    return -F.softplus(fake_logits).mean()


def generator_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_G = −E[log σ(D(G(z)))] (Goodfellow et al., §3): the same fixed point, but the gradient
    (1 − σ(D))·∂D is largest exactly when the discriminator rejects the fakes."""
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """L_D = −E[D(x)] + E[D(G(z))] (Arjovsky et al., Algorithm 1): minimising it maximises the
    Kantorovich–Rubinstein estimate of the Wasserstein-1 distance over the critic family."""
    return -real_scores.mean() + fake_scores.mean()


def critic_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """L_G = −E[D(G(z))]."""
    return -fake_scores.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = ε x + (1 − ε) G(z), ε ~ U[0, 1] per pair (Gulrajani et al.,
    Algorithm 1): a soft 1-Lipschitz constraint, in place of clipping the weights."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=generator, device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def clip_weights(critic: nn.Module, clip: float) -> None:
    """Keep every critic weight in [−c, c] (Arjovsky et al.): a crude way to bound the Lipschitz constant."""
    with torch.no_grad():
        params = list(critic.parameters())
        torch._foreach_clamp_min_(params, -clip)
        torch._foreach_clamp_max_(params, clip)


# --------------------------------------------------------------------------- 2-D networks
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
    width; at 64 units c = 0.01 leaves the critic almost flat and the clipped WGAN covered 0 of the
    8 Gaussians (within 3σ) in 6,000 steps, while c = 0.1 covered 6 and 8 (seeds 0 and 1). c = 0.01
    stays a choice: the "too tight a clip" lesson (see CLIP_LESSON)."""
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
DEFAULT_CLIP = 0.1
CLIP_LESSON = ("c = 0.01 is the paper's value for 512-unit critics; on this 64-unit critic it clips so tightly "
               "that the critic can hardly vary, and the clipped WGAN learns almost nothing: try it.")

#: The ranges the live panels offer for each setting (the page's number boxes and the Space check them).
LIVE_RANGES = {"n_critic": (1, 50), "clip": (0.001, 1.0), "gp_lambda": (0.001, 100.0), "seed": (0, 10_000),
               "lr": (1e-6, 1.0)}


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


# ------------------------------------------------------------------------ image models
class DCGANGenerator(nn.Module):
    """DCGAN-style generator (Radford et al., 2016) for small images: z (+ one-hot class) → dense
    → (4w, S/4, S/4) → batch norm, ReLU → 4x4 transposed conv, stride 2 → (2w, S/2, S/2) → batch
    norm, ReLU → 4x4 transposed conv, stride 2 → (C, S, S) → sigmoid (pixels in [0, 1])."""

    def __init__(self, image_size: int, channels: int, latent_dim: int, width: int, num_classes: int = 0):
        super().__init__()
        self.side, self.width, self.num_classes = image_size // 4, width, num_classes
        self.project = nn.Sequential(nn.Linear(latent_dim + num_classes, 4 * width * self.side ** 2),
                                     nn.BatchNorm1d(4 * width * self.side ** 2), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, channels, 4, stride=2, padding=1), nn.Sigmoid())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        return self.up(self.project(z).view(len(z), 4 * self.width, self.side, self.side))


class DCGANDiscriminator(nn.Module):
    """4x4 convolutions, stride 2, LeakyReLU(0.2); batch norm after the second unless `batch_norm`
    is off (the WGAN-GP critic: the penalty is per sample, batch norm would couple samples). A
    conditional model sees its class as extra constant image planes (Mirza & Osindero, 2014)."""

    def __init__(self, image_size: int, channels: int, width: int, num_classes: int = 0, batch_norm: bool = True):
        super().__init__()
        self.num_classes = num_classes
        side = image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels + num_classes, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.BatchNorm2d(2 * width) if batch_norm else nn.Identity(), nn.LeakyReLU(0.2), nn.Flatten())
        self.out = nn.Linear(2 * width * side * side, 1)

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The intermediate layer f(x) that feature matching compares."""
        if self.num_classes:
            planes = F.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], dim=1)
        return self.body(x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.features(x, labels)).squeeze(1)


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """‖E f(x) − E f(G(z))‖₂² (Salimans et al., 2016, §3.1), over an intermediate discriminator layer."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


class ImageGAN(HubModel):
    """A generator and its discriminator / critic, saved and loaded together.
    kind: 'gan', 'wgan', 'wgan-gp', or 'cgan' (conditional GAN with feature matching)."""

    model_type = "image-gan"

    def __init__(self, kind: str = "gan", image_size: int = 28, channels: int = 1, latent_dim: int = 100,
                 width: int = 64, num_classes: int = 0, generator_loss: str = "non-saturating"):
        super().__init__()
        if kind not in (*KINDS, "cgan"):
            raise ValueError(f"kind must be gan, wgan, wgan-gp or cgan; got {kind!r}")
        if kind == "cgan" and num_classes < 2:
            raise ValueError("a conditional GAN needs num_classes ≥ 2")
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4; got {image_size}")
        self.kind, self.latent_dim, self.num_classes = kind, latent_dim, num_classes if kind == "cgan" else 0
        self.generator_loss = generator_loss
        self.generator = DCGANGenerator(image_size, channels, latent_dim, width, self.num_classes)
        self.discriminator = DCGANDiscriminator(image_size, channels, width, self.num_classes,
                                                batch_norm=kind != "wgan-gp")

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, batch: int = 1024) -> torch.Tensor:
        """n images G(z) from a generator seeded with `seed`, in eval mode (batch norm uses its running
        statistics, so each image is independent of the others) and at most `batch` at a time, so
        the memory of a large evaluation stays bounded."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
        if self.num_classes and labels is None:
            labels = torch.arange(n, device=device) % self.num_classes
        was_training = self.generator.training
        self.generator.eval()
        images = torch.cat([self.generator(z[i:i + batch], None if labels is None else labels[i:i + batch])
                            for i in range(0, n, batch)])
        self.generator.train(was_training)
        return images


def class_grid(model: ImageGAN, per_class: int = 8, seed: int = 0) -> torch.Tensor:
    """The class-conditional sample grid: `per_class` samples of each class, one row per class."""
    device = next(model.parameters()).device
    labels = torch.arange(model.num_classes, device=device).repeat_interleave(per_class)
    return model.sample(len(labels), labels, seed=seed)


class DiscriminatorLoss(nn.Module):
    """The discriminator / critic objective of one update, as one module whose single forward pass
    sees the real batch, the fake batch and (WGAN-GP) the interpolates:

        GAN, cGAN   L_D = −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))]        (Goodfellow et al., eq. 1)
        WGAN        L_D = −E[D(x)] + E[D(G(z))]                            (Arjovsky et al., Algorithm 1)
        WGAN-GP     L_D + λ E[(‖∇_x̂ D(x̂)‖₂ − 1)²]                         (Gulrajani et al., Algorithm 1)

    Why a module: DistributedDataParallel reduces the gradients of one forward per backward. Wrapped
    around this module, the passes through D and the penalty's inner autograd.grad all happen in
    that one forward, so each parameter's gradient is all-reduced once, after the backward has
    summed every path (wrapping D alone would see two or three forwards before one backward).
    The outputs are cast to float32, so the losses are computed in full precision under autocast."""

    def __init__(self, discriminator: DCGANDiscriminator, kind: str, gp_lambda: float = 10.0):
        super().__init__()
        self.discriminator, self.kind, self.gp_lambda = discriminator, kind, gp_lambda

    def forward(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        d = self.discriminator
        real_out, fake_out = d(real, labels).float(), d(fake, labels).float()
        if self.kind in ("gan", "cgan"):
            return discriminator_loss(real_out, fake_out), {}
        loss = critic_loss(real_out, fake_out)
        if self.kind == "wgan-gp":
            loss = loss + self.gp_lambda * gradient_penalty(lambda x: d(x, labels).float(), real, fake)
        # E[D(x)] − E[D(G(z))]: the critic's estimate of W₁ (up to the Lipschitz constant of its family).
        return loss, {"wasserstein": (real_out.mean() - fake_out.mean()).detach()}


class GeneratorLoss(nn.Module):
    """The generator objective of one update, as one module (for the same reason as DiscriminatorLoss):

        GAN, cGAN   L_G = −E[log σ(D(G(z)))] (non-saturating) or E[log(1 − σ(D(G(z))))]  (Goodfellow et al., §3)
        cGAN        + ‖E f(x) − E f(G(z))‖₂², f an intermediate D layer (Salimans et al., 2016, §3.1)
        WGANs       L_G = −E[D(G(z))]

    The discriminator is an argument of `forward`, not a submodule: its parameters belong to the
    discriminator's update (and to its DDP wrapper), not to this one."""

    def __init__(self, generator: DCGANGenerator, kind: str, generator_loss: str = "non-saturating"):
        super().__init__()
        self.generator, self.kind, self.generator_loss = generator, kind, generator_loss

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None, real: torch.Tensor,
                discriminator: DCGANDiscriminator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake = self.generator(z, labels)
        fake_out = discriminator(fake, labels).float()
        if self.kind not in ("gan", "cgan"):
            return critic_generator_loss(fake_out), {}
        loss = (generator_loss_saturating if self.generator_loss == "saturating"
                else generator_loss_non_saturating)(fake_out)
        if self.kind != "cgan":
            return loss, {}
        with torch.no_grad():
            real_features = discriminator.features(real, labels).float()
        matching = feature_matching_loss(real_features, discriminator.features(fake, labels).float())
        return loss + matching, {"feature_matching": matching.detach()}


@dataclass
class ImageGANLosses:
    """The two objectives of an ImageGAN, each possibly wrapped (DistributedDataParallel)."""
    discriminator: nn.Module
    generator: nn.Module

    @classmethod
    def of(cls, model: ImageGAN, gp_lambda: float = 10.0, wrap=lambda module: module) -> ImageGANLosses:
        return cls(wrap(DiscriminatorLoss(model.discriminator, model.kind, gp_lambda)),
                   wrap(GeneratorLoss(model.generator, model.kind, model.generator_loss)))


def image_gan_step(model: ImageGAN, real: torch.Tensor, labels: torch.Tensor, opt_g, opt_d, update_generator: bool,
                   clip: float = 0.01, gp_lambda: float = 10.0, *, losses: ImageGANLosses | None = None,
                   autocast=None) -> dict[str, float]:
    """One discriminator / critic update on a batch, and a generator update when `update_generator`
    (every n_critic batches for the WGANs, as in Arjovsky et al.'s Algorithm 1).

    `losses`: the two objectives, wrapped for DistributedDataParallel by the trainer (built here,
    unwrapped, when None). `autocast` (e.g. torch.autocast("cpu", torch.bfloat16)) is entered
    around the forward passes only; backward and the optimiser steps run outside it, as
    torch.autocast's documentation asks."""
    losses = losses or ImageGANLosses.of(model, gp_lambda)
    autocast = autocast or contextlib.nullcontext()
    labels = labels if model.num_classes else None
    z = torch.randn(len(real), model.latent_dim, device=real.device)
    with torch.no_grad(), autocast:
        fake = model.generator(z, labels)
    with autocast:
        loss_d, metrics = losses.discriminator(real, fake, labels)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    if model.kind == "wgan":
        clip_weights(model.discriminator, clip)
    metrics = {"loss_d": loss_d.detach(), **metrics}
    if update_generator:
        z = torch.randn(len(real), model.latent_dim, device=real.device)
        with autocast:
            loss_g, generator_metrics = losses.generator(z, labels, real, model.discriminator)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        metrics.update({**generator_metrics, "loss_g": loss_g.detach()})
    return {k: v.item() for k, v in metrics.items()}


def snapshot_model(checkpoint, snapshot_path) -> ImageGAN:
    """A fresh model built from a checkpoint's config, with a training snapshot's generator."""
    config = {k: v for k, v in checkpoint.config.items() if k != "model_type"}
    return load_snapshot(ImageGAN(**config), snapshot_path)


def load_snapshot(model: ImageGAN, path) -> ImageGAN:
    """Put a training snapshot's generator weights (snapshots/epoch-NNN.safetensors) into `model`."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    reference = model.generator.state_dict()
    model.generator.load_state_dict({k: v.to(reference[k].dtype) for k, v in state.items()})
    return model


class PairedOptimizer:
    """The generator's and the discriminator's optimisers as one object for the training loop
    (state_dict / load_state_dict for --resume)."""

    def __init__(self, generator: torch.optim.Optimizer, discriminator: torch.optim.Optimizer):
        self.generator, self.discriminator = generator, discriminator

    def state_dict(self) -> dict:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])


def image_gan_optimizer(model: ImageGAN, lr: float) -> PairedOptimizer:
    """RMSprop for the clipped WGAN (Arjovsky et al.); Adam(0.5, 0.9) for WGAN-GP (Gulrajani et al.);
    Adam(0.5, 0.999) for GAN and cGAN (Radford et al.)."""
    g, d = model.generator.parameters(), model.discriminator.parameters()
    if model.kind == "wgan":
        return PairedOptimizer(torch.optim.RMSprop(g, lr=lr), torch.optim.RMSprop(d, lr=lr))
    betas = (0.5, 0.9) if model.kind == "wgan-gp" else (0.5, 0.999)
    return PairedOptimizer(torch.optim.Adam(g, lr=lr, betas=betas), torch.optim.Adam(d, lr=lr, betas=betas))


# ------------------------------------------------------------------- the theory, in 1-D
@dataclass(frozen=True)
class GaussianGame:
    """p_data = N(μ_d, σ_d²) against a generator p_g = N(θ, σ_g²), on a grid, with the optimal
    discriminator. Everything the theory panel plots comes from here."""
    theta: float
    sigma_g: float = 1.0
    mu_data: float = 0.0
    sigma_data: float = 1.0
    lim: float = 12.0
    points: int = 6001

    def __post_init__(self):
        for name in ("sigma_g", "sigma_data"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)}")

    @property
    def x(self) -> np.ndarray:
        low = min(self.mu_data - 10 * self.sigma_data, self.theta - 10 * self.sigma_g, -self.lim)
        high = max(self.mu_data + 10 * self.sigma_data, self.theta + 10 * self.sigma_g, self.lim)
        return np.linspace(low, high, self.points)

    def log_densities(self, x: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        x = self.x if x is None else x
        def log_normal(mu, s):
            return -0.5 * ((x - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
        return log_normal(self.mu_data, self.sigma_data), log_normal(self.theta, self.sigma_g)

    def optimal_logit(self, x: np.ndarray | None = None) -> np.ndarray:
        """log p_data − log p_g: D*(x) = p_data / (p_data + p_g) = σ(this) (Goodfellow et al., Prop. 1)."""
        log_d, log_g = self.log_densities(x)
        return log_d - log_g

    def optimal_discriminator(self, x: np.ndarray | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.optimal_logit(x), -700, 700)))

    def js_divergence(self) -> float:
        """JS(p_data ‖ p_g) = ½ KL(p_data ‖ m) + ½ KL(p_g ‖ m), m = (p_data + p_g)/2, in nats; at most
        log 2, reached when the supports separate. With D*, V(D*, G) = 2 JS − log 4 (Goodfellow et al., Thm. 1)."""
        x = self.x
        log_d, log_g = self.log_densities(x)
        log_m = np.logaddexp(log_d, log_g) - np.log(2)
        integrand = 0.5 * np.exp(log_d) * (log_d - log_m) + 0.5 * np.exp(log_g) * (log_g - log_m)
        return float(np.clip(np.trapezoid(integrand, x), 0.0, np.log(2)))

    def wasserstein(self) -> float:
        """W₁(p_data, p_g) = ∫ |F_data(x) − F_g(x)| dx for 1-D distributions (exact CDFs on the grid)."""
        from scipy.stats import norm

        x = self.x
        gap = np.abs(norm.cdf(x, self.mu_data, self.sigma_data) - norm.cdf(x, self.theta, self.sigma_g))
        return float(np.trapezoid(gap, x))

    def generator_gradients(self) -> dict[str, float]:
        """∂/∂θ of each generator loss with the discriminator held at D* for the current θ:

            saturating       ∂/∂θ E_{p_g}[log(1 − D*(x))] = E_{p_g}[−σ(ℓ(x)) ℓ'(x)]
            non-saturating   ∂/∂θ E_{p_g}[−log D*(x)]     = E_{p_g}[−(1 − σ(ℓ(x))) ℓ'(x)]

        with ℓ = log p_data − log p_g the optimal logit (x = θ + σ_g ε, so ∂x/∂θ = 1). Far from the
        data σ(ℓ) ≈ 0 on the generator's samples: the saturating gradient vanishes (Goodfellow et
        al., §3; Arjovsky & Bottou, 2017), the non-saturating one does not."""
        x = self.x
        logit = self.optimal_logit(x)
        slope = -(x - self.mu_data) / self.sigma_data ** 2 + (x - self.theta) / self.sigma_g ** 2
        p_g = np.exp(self.log_densities(x)[1])
        d_star = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        return {"saturating": float(np.trapezoid(p_g * -d_star * slope, x)),
                "non-saturating": float(np.trapezoid(p_g * -(1 - d_star) * slope, x))}


def separation_curves(shifts: np.ndarray, sigma_g: float = 1.0) -> dict[str, np.ndarray]:
    """JS, W₁ and both generator gradients as the generator's mean moves away from the data."""
    games = [GaussianGame(float(t), sigma_g) for t in shifts]
    grads = [g.generator_gradients() for g in games]
    return {"shift": np.asarray(shifts, float), "js": np.array([g.js_divergence() for g in games]),
            "wasserstein": np.array([g.wasserstein() for g in games]),
            "saturating": np.array([abs(g["saturating"]) for g in grads]),
            "non_saturating": np.array([abs(g["non-saturating"]) for g in grads])}


# -------------------------------------------------------------- the live panel's state
def describe_settings(configs: dict[str, ToyGANConfig]) -> str:
    """The settings a side-by-side run trains with, in one line (the page shows which values are in
    force: a number field left out of range keeps its last valid value)."""
    first = next(iter(configs.values()))
    wgans = [c for c in configs.values() if c.kind != "gan"]
    parts = [f"data {first.dataset}", f"seed {first.seed}", f"GAN loss {first.generator_loss}"]
    if wgans:
        parts.append(f"n_critic {wgans[0].n_critic}")
    if "wgan" in configs:
        parts.append(f"clip c {configs['wgan'].clip:g}")
    if "wgan-gp" in configs:
        parts.append(f"λ {configs['wgan-gp'].gp_lambda:g}")
    rates = ", ".join(f"{c.kind} {c.lr_generator:g} / {c.lr_critic:g}" for c in configs.values())
    return " · ".join(parts) + f" · learning rates (generator / critic): {rates}"


def side_by_side(configs: dict[str, ToyGANConfig]) -> LiveSession:
    """GAN, WGAN and WGAN-GP on the same toy data, with the same seed and network sizes, as one
    live session (dgm_core.live): advanced together, mode coverage recorded after every advance."""
    models = {kind: ToyGAN(config) for kind, config in configs.items()}
    return LiveSession(models, real=next(iter(models.values())).pool[:PANEL_POINTS].numpy(),
                       step_unit="generator updates")


# ------------------------------------------------- comparing trained image GANs fairly
#: Below this share of samples a class counts as dropped (fewer than 10 of 1,000; a fair share is 10 %).
DROPPED_SHARE = 0.01


def matched_comparison(runs: dict[str, list[dict]]) -> list[dict]:
    """One row per model from the histories of its training seeds (kind -> [history, ...]): the
    updates and wall-clock behind the last epoch, and the last Fréchet distance as the seeds' mean
    and range. Models with different n_critic are compared at matched generator updates, so the
    table states them; `matched` in each row says whether every model made the same number."""
    finals = {kind: [h["epochs"][-1] for h in histories if h.get("epochs")] for kind, histories in runs.items()}
    updates = {e.get("generator_updates") for rows in finals.values() for e in rows}
    table = []
    for kind, rows in finals.items():
        if not rows:
            continue
        fids = [e["fid_classifier"] for e in rows if "fid_classifier" in e]
        dropped = [sum(c / max(sum(e["class_histogram"]), 1) < DROPPED_SHARE for c in e["class_histogram"])
                   for e in rows if "class_histogram" in e]
        table.append({
            "kind": kind, "seeds": len(rows),
            "generator_updates": rows[0].get("generator_updates"), "critic_updates": rows[0]["step"],
            "epochs": rows[0]["epoch"],
            "seconds": float(np.mean([e["seconds"] for e in rows])) if all("seconds" in e for e in rows) else None,
            "fid_mean": float(np.mean(fids)) if fids else None,
            "fid_min": min(fids, default=None), "fid_max": max(fids, default=None),
            "classes_dropped": max(dropped, default=None),
            "matched": len(updates) == 1 and None not in updates,
        })
    return table


def sampling_spread(model: ImageGAN, judge, real_features: np.ndarray, n: int = 1000, seeds: int = 5) -> dict:
    """The Fréchet distance of one trained generator over `seeds` sample draws of n images: its
    standard deviation is the spread that comes from sampling alone, before any training seed."""
    from dgm_core.features import classifier_features
    from dgm_core.metrics import frechet_distance

    values = [frechet_distance(real_features, classifier_features(judge, model.sample(n, seed=seed).cpu()))
              for seed in range(seeds)]
    return {"values": values, "mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)), "n": n}
