"""Energy-based models: contrastive divergence with Langevin sampling, replay buffers, a
class-conditional energy, JEM (Grathwohl et al., ICLR 2020) and JEM++ (Yang & Ji, ICCV 2021).

Read top to bottom: the energy networks; the SGLD sampler and its noise schedule; where chains start
(uniform noise, a replay buffer, JEM++'s per-class Gaussians); the losses (contrastive divergence,
JEM); the divergence guard.

An energy E_θ(x) defines p_θ(x) = exp(−E_θ(x)) / Z_θ. The gradient of the log-likelihood is

    ∇_θ log p_θ(x) = −∇_θ E_θ(x) + E_{x'~p_θ}[∇_θ E_θ(x')],

so maximum likelihood lowers the energy of data and raises the energy of the model's own samples
x', drawn by Langevin dynamics (contrastive divergence; Hinton, 2002; Du & Mordatch, 2019).

Every stochastic function takes a `generator`; nothing here touches the global RNG.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.generative import GenerativeModel, Likelihood
from dgm_core.hub import HubModel
from dgm_core.live import PANEL_POINTS, Field, LiveSession, LiveView


# --------------------------------------------------------------------------- the energies
class ResBlock(nn.Module):
    """x + conv(SiLU(conv(SiLU(x)))): smooth activations, so ∇_x E is smooth for Langevin dynamics."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class EnergyNet(HubModel, GenerativeModel):
    """A small ResNet-style CNN f: images → R^outputs, with SiLU activations and no normalisation layers
    (batch statistics would make E(x) depend on the rest of the batch).

    outputs = 1:  the energy itself, E(x) = f(x).
    outputs = K:  logits of K classes. The class-conditional energy is E(x, y) = −f(x)[y]; JEM's
                  E(x) = −logsumexp_y f(x)[y] and p(y|x) = softmax f(x) (Grathwohl et al., 2020, eq. 5–6).

    `layer_one` is the first convolution alone: JEM++'s proximal SGLD takes its inner steps through it."""

    model_type = "ebm"

    def __init__(self, image_size: int = 28, channels: int = 1, width: int = 32, outputs: int = 1):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4; got {image_size}")
        self.image_size, self.channels, self.outputs = image_size, channels, outputs
        self.layer_one = nn.Conv2d(channels, width, 3, padding=1)
        self.rest = nn.Sequential(
            ResBlock(width), nn.AvgPool2d(2),
            nn.SiLU(), nn.Conv2d(width, 2 * width, 3, padding=1), ResBlock(2 * width), nn.AvgPool2d(2),
            nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(x): (B, outputs)."""
        return self.rest(self.layer_one(x))

    def energy(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E(x) per example (B,), or E(x, y) where `y` (B,) is given (a model with class outputs)."""
        out = self(x)
        if self.outputs == 1:
            return out[:, 0]
        if y is not None:
            return -out.gather(1, y.view(-1, 1))[:, 0]
        return -torch.logsumexp(out, dim=1)

    # -- the generative-model protocol (dgm_core.generative)
    no_latent_space = "an energy model's samples come from Markov chains, not from a latent code"
    chains = None           # the sampler it was trained with, from `prepare`
    starts = None           # JEM++'s per-class Gaussians, where the chains start

    def prepare(self, run: dict) -> None:
        """The sampler the run trained with (recipe_sampler), and for JEM++ the per-class Gaussians of its
        training images that its chains start from."""
        self.chains = recipe_sampler(run)
        if run.get("model") == "jempp":
            from dgm_core.data import load_dataset

            train = load_dataset(run.get("dataset", "digits"), "train", self.image_size)
            self.starts = ClassGaussians(train.images, train.labels, self.outputs)

    def _sampler(self):
        if self.chains is None:
            raise RuntimeError("an energy model samples with the sampler it was trained with: call prepare(run) "
                               "with the run its history.json records")
        return self.chains

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        starts = None if self.starts is None else self.starts.sample(n, generator)[0]
        return sample_chains(self, n, self._sampler(), generator, starts=starts)[0].clamp(0, 1)

    def sampling_note(self) -> str:
        chains = self._sampler()
        if isinstance(chains, ProximalSGLD):
            return (f"{chains.steps} proximal SGLD steps of {chains.inner} inner steps from per-class Gaussians "
                    "(as trained)")
        return f"{chains.steps} SGLD steps from uniform noise (as trained)"

    def likelihood_of(self, images: torch.Tensor, generator: torch.Generator, importance: int) -> Likelihood:
        return Likelihood(None, None, "none: exp(−E(x)) is known only up to its normaliser Z = ∫ exp(−E), which "
                                      "cannot be computed, so log p(x) is unknown (only differences of energy)")


class EnergyMLP(nn.Module):
    """E: R^d → R, an MLP with SiLU activations, for the live 2-D lab."""

    def __init__(self, dim: int = 2, hidden: int = 64, layers: int = 3):
        super().__init__()
        widths = [dim] + [hidden] * layers
        parts: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            parts += [nn.Linear(a, b), nn.SiLU()]
        self.net = nn.Sequential(*parts, nn.Linear(hidden, 1))

    def energy(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x)[:, 0]


# ------------------------------------------------------------------------------- SGLD
@dataclass(frozen=True)
class SGLD:
    """Stochastic gradient Langevin dynamics on an energy (Welling & Teh, 2011):

        x_{t+1} = clamp( x_t − ε · clip(∇_x E(x_t)) + σ_t ξ_t ),   ξ_t ~ N(0, I),
        σ_t = σ_start (σ_end / σ_start)^(t / (T − 1))   (a geometric noise schedule; constant if equal).

    With σ = √(2ε), no clipping and no clamping this is the unadjusted Langevin algorithm, whose
    samples approach p ∝ exp(−E) as ε → 0. EBM training decouples the two (JEM: ε = 1, σ = 0.01),
    which trades exactness for short chains that move."""
    steps: int = 20
    step_size: float = 1.0
    sigma_start: float = 0.01
    sigma_end: float = 0.01
    grad_clip: float | None = None            # clamp each component of ∇E to [−c, c]
    clamp: tuple[float, float] | None = (0.0, 1.0)

    def __post_init__(self):
        if self.steps < 0 or self.step_size < 0 or self.sigma_start < 0 or self.sigma_end < 0:
            raise ValueError("SGLD needs steps, step size and noise of at least 0")
        if (self.sigma_start == 0) != (self.sigma_end == 0):
            raise ValueError("a geometric noise schedule needs both ends above 0, or both at 0")

    def sigma(self, t: int) -> float:
        if self.steps <= 1 or self.sigma_start == self.sigma_end:
            return self.sigma_start
        return self.sigma_start * (self.sigma_end / self.sigma_start) ** (t / (self.steps - 1))

    def run(self, energy, x0: torch.Tensor, generator: torch.Generator | None = None, y: torch.Tensor | None = None,
            trajectory: bool = False) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Run the chains from x0 on `energy(x, y)`; returns (final x, [x_0 … x_T] if `trajectory`,
        [E(x_t) per chain for t = 0 … T − 1]). The model's parameters get no gradient from this."""
        x = x0.detach().clone()
        states = [x.clone()] if trajectory else []
        energies = []
        for t in range(self.steps):
            x.requires_grad_(True)
            e = energy(x, y)
            (grad,) = torch.autograd.grad(e.sum(), x)
            energies.append(e.detach())
            if self.grad_clip is not None:
                grad = grad.clamp(-self.grad_clip, self.grad_clip)
            with torch.no_grad():
                x = x - self.step_size * grad
                sigma = self.sigma(t)
                if sigma > 0:
                    x = x + sigma * torch.randn(x.shape, generator=generator, device=x.device)
                if self.clamp is not None:
                    x = x.clamp(*self.clamp)
            if trajectory:
                states.append(x.clone())
        return x.detach(), states, energies


@dataclass(frozen=True)
class ProximalSGLD:
    """JEM++'s proximal Langevin steps (PYLD-M-N; Yang & Ji, 2021, §3.2, after YOPO): each of `steps`
    outer steps computes ∇ of the energy once through the whole network and keeps p = ∂E/∂h₁, the
    gradient at the first layer's output h₁ = layer_one(x); then `inner` steps move x using only the
    first layer, x ← clamp(x − η · clip(∇_x ⟨layer_one(x), p⟩)), which costs one small backward each.
    The settings of the paper's 'faster and more stable' runs: few outer steps (5), a few inner (3–10),
    no noise, and informative initialisation (`class_gaussians`)."""
    steps: int = 5
    inner: int = 3
    step_size: float = 1.0
    grad_clip: float = 0.01
    clamp: tuple[float, float] = (0.0, 1.0)

    def run(self, model: EnergyNet, x0: torch.Tensor, generator: torch.Generator | None = None,
            y: torch.Tensor | None = None, trajectory: bool = False):
        x = x0.detach().clone()
        states = [x.clone()] if trajectory else []
        energies = []
        for _ in range(self.steps):
            x.requires_grad_(True)
            h1 = model.layer_one(x)
            out = model.rest(h1)
            e = (out[:, 0] if model.outputs == 1 else
                 -out.gather(1, y.view(-1, 1))[:, 0] if y is not None else -torch.logsumexp(out, dim=1))
            (p,) = torch.autograd.grad(e.sum(), h1)
            energies.append(e.detach())
            x = x.detach()
            for _ in range(self.inner):
                x.requires_grad_(True)
                (grad,) = torch.autograd.grad((model.layer_one(x) * p).sum(), x)
                with torch.no_grad():
                    x = (x - self.step_size * grad.clamp(-self.grad_clip, self.grad_clip)).clamp(*self.clamp)
            if trajectory:
                states.append(x.clone())
        return x.detach(), states, energies


# --------------------------------------------------------------------- where chains start
def uniform_noise(n: int, shape: tuple[int, ...], generator: torch.Generator | None = None,
                  low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    return low + (high - low) * torch.rand((n, *shape), generator=generator)


class ClassGaussians:
    """JEM++'s informative initialisation: one Gaussian N(μ_y, Σ_y) per class fitted to the training
    images (Σ_y + 10⁻⁴ I, so it can be factorised), chains started from a draw of a random class's
    Gaussian and clamped to the data range."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, num_classes: int):
        flat = images.flatten(1).double()
        self.shape = tuple(images.shape[1:])
        self.means, self.factors = [], []
        for k in range(num_classes):
            members = flat[labels == k]
            if len(members) < 2:
                raise ValueError(f"class {k} has {len(members)} training images; a Gaussian needs at least 2")
            mean = members.mean(0)
            centred = members - mean
            cov = centred.T @ centred / len(members) + 1e-4 * torch.eye(flat.shape[1], dtype=torch.float64)
            self.means.append(mean)
            self.factors.append(torch.linalg.cholesky(cov))

    def sample(self, n: int, generator: torch.Generator | None = None, y: torch.Tensor | None = None,
               clamp: tuple[float, float] | None = (0.0, 1.0)) -> tuple[torch.Tensor, torch.Tensor]:
        """n draws and the classes they came from (uniform over classes unless `y` is given)."""
        classes = y if y is not None else torch.randint(len(self.means), (n,), generator=generator)
        z = torch.randn(n, len(self.means[0]), generator=generator, dtype=torch.float64)
        out = torch.stack([self.means[k] + self.factors[k] @ z[i] for i, k in enumerate(classes.tolist())])
        out = out.float().view(n, *self.shape)
        return (out.clamp(*clamp) if clamp else out), classes


class ReplayBuffer:
    """Persistent chains (Tieleman, 2008; Du & Mordatch, 2019): `size` samples kept between training
    steps. Each batch takes n of them at random and replaces exactly round(reinit · n) with fresh
    starts (5 % by default), so 95 % of a batch continues earlier chains.

    With `num_classes` K the buffer is K blocks of size // K, block k holding chains of class k (as in
    JEM's class-conditional sampling), and `sample(n, y)` draws each start from its label's block.
    `fresh(n, generator)` returns n new starts."""

    def __init__(self, size: int, shape: tuple[int, ...], fresh, generator: torch.Generator | None = None,
                 reinit: float = 0.05, num_classes: int | None = None):
        if not 0 <= reinit <= 1:
            raise ValueError(f"the re-initialised share must lie in [0, 1]; got {reinit}")
        if num_classes is not None and size < num_classes:
            raise ValueError(f"a buffer of {size} cannot hold a block for each of {num_classes} classes")
        self.fresh, self.reinit, self.num_classes = fresh, reinit, num_classes
        self.per_class = size // num_classes if num_classes else size
        self.samples = fresh(self.per_class * (num_classes or 1), generator)

    def sample(self, n: int, generator: torch.Generator | None = None, y: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(starts, their indices in the buffer); with a class buffer, `y` (n,) says each start's class."""
        if self.num_classes is not None:
            if y is None:
                raise ValueError("a class-conditional buffer needs the classes to sample")
            index = y.cpu() * self.per_class + torch.randint(self.per_class, (n,), generator=generator)
        else:
            index = torch.randint(len(self.samples), (n,), generator=generator)
        x = self.samples[index].clone()
        renew = torch.randperm(n, generator=generator)[:round(self.reinit * n)]
        if len(renew):
            x[renew] = self.fresh(len(renew), generator)
        return x, index

    def push(self, x: torch.Tensor, index: torch.Tensor) -> None:
        self.samples[index] = x.detach().to(self.samples.device)

    def state_dict(self) -> dict:
        return {"samples": self.samples}

    def load_state_dict(self, state: dict) -> None:
        self.samples = state["samples"].clone()


# ------------------------------------------------------------------------------- losses
def contrastive_divergence(e_data: torch.Tensor, e_sample: torch.Tensor, alpha: float) -> tuple[torch.Tensor, dict]:
    """mean E(x_data) − mean E(x_sample) + α (mean E(x_data)² + mean E(x_sample)²) (Du & Mordatch, 2019,
    §3.3: the L2 term keeps the energies near 0 and the gradients well scaled)."""
    cd = e_data.mean() - e_sample.mean()
    loss = cd + alpha * (e_data.pow(2).mean() + e_sample.pow(2).mean())
    return loss, {"cd": cd.detach(), "energy_data": e_data.mean().detach(), "energy_sample": e_sample.mean().detach()}


def jem_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_sample: torch.Tensor | None,
             generative_weight: float = 1.0, alpha: float = 0.0) -> tuple[torch.Tensor, dict]:
    """JEM's objective (Grathwohl et al., 2020, eq. 8): cross-entropy of p(y|x) plus the maximum-
    likelihood term of p(x) through SGLD samples, E(x_data) − E(x_sample) with E = −logsumexp f.
    With `generative_weight` 0 it is the plain classifier of the same network."""
    logits = model(x)
    ce = F.cross_entropy(logits.float(), y)
    metrics = {"cross_entropy": ce.detach(), "accuracy": (logits.argmax(1) == y).float().mean()}
    loss = ce
    if x_sample is not None and generative_weight > 0:
        e_data = -torch.logsumexp(logits.float(), dim=1)
        e_sample = -torch.logsumexp(model(x_sample).float(), dim=1)
        gen, parts = contrastive_divergence(e_data, e_sample, alpha)
        loss = loss + generative_weight * gen
        metrics.update(parts)
    return loss, {**metrics, "loss": loss.detach()}


# --------------------------------------------------------------------- the divergence guard
#: Energies or gradients beyond these mean the run has diverged (EBMs are known to): stop and say so.
ENERGY_LIMIT = 1e4
DIVERGENCE_ADVICE = ("Energy-based models diverge when the sampler cannot keep up with the energy: use more "
                     "SGLD steps (--sgld-steps), a lower learning rate (--lr), or a larger L2 energy penalty "
                     "(--alpha).")


# --------------------------------------------------------------------------- live, in 2-D
#: The settings the live 2-D EBM accepts: (low, high) of each number (the lab offers these ranges).
RANGES = {"sgld_steps": (1, 200), "step_size": (1e-4, 1.0), "sigma_start": (0.0, 1.0), "sigma_end": (0.0, 1.0),
          "hidden": (8, 256), "lr": (1e-5, 0.05), "alpha": (0.0, 10.0), "seed": (0, 10_000)}
INITS = ("buffer", "noise")


@dataclass(frozen=True)
class ToyEBMConfig:
    dataset: object = "8gaussians"   # a toy name or a student's OwnPoints
    init: str = "buffer"
    sgld_steps: int = 20
    step_size: float = 0.01
    sigma_start: float = 0.1
    sigma_end: float = 0.1
    hidden: int = 64
    lr: float = 1e-3
    alpha: float = 0.1
    batch_size: int = 256
    seed: int = 0

    def __post_init__(self):
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}; got {self.init!r}.")
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name.replace('_', ' ')} must be between {low:g} and {high:g}; got {value:g}.")
        if (self.sigma_start == 0) != (self.sigma_end == 0):
            raise ValueError("the noise schedule needs both ends above 0, or both at 0.")


class ToyEBM:
    """An MLP energy on 2-D points trained live by contrastive divergence (dgm_core.live.LiveModel):
    each step runs SGLD chains from the replay buffer (or from uniform noise over the data's box),
    then one Adam step on E(data) − E(chains) + α (E(data)² + E(chains)²)."""

    def __init__(self, config: ToyEBMConfig):
        from dgm_core.data import sample_toy

        self.config = c = config
        self.pool = sample_toy(c.dataset, 20_000, seed=c.seed)
        self.limit = max(1.5, math.ceil(float(self.pool.abs().max()) * 1.1 * 2) / 2)
        self.rng = torch.Generator().manual_seed(c.seed)
        with torch.random.fork_rng(devices=[]):   # initial weights from the seed, the global RNG untouched
            torch.manual_seed(c.seed + 1)
            self.energy_net = EnergyMLP(2, c.hidden)
        self.optimizer = torch.optim.Adam(self.energy_net.parameters(), lr=c.lr)
        self.sampler = SGLD(steps=c.sgld_steps, step_size=c.step_size, sigma_start=c.sigma_start,
                            sigma_end=c.sigma_end, clamp=(-self.limit, self.limit))
        self.buffer = ReplayBuffer(2000, (2,), self._fresh, self.rng)
        self.steps, self.history = 0, []
        self.last_starts = self.last_chains = self._fresh(c.batch_size, self.rng)

    def _fresh(self, n: int, generator=None) -> torch.Tensor:
        return uniform_noise(n, (2,), generator, -self.limit, self.limit)

    def step(self) -> dict[str, float]:
        c = self.config
        x = self.pool[torch.randint(len(self.pool), (c.batch_size,), generator=self.rng)]
        if c.init == "buffer":
            starts, index = self.buffer.sample(c.batch_size, self.rng)
        else:
            starts, index = self._fresh(c.batch_size, self.rng), None
        chains, _, _ = self.sampler.run(self.energy_net.energy, starts, self.rng)
        if index is not None:
            self.buffer.push(chains, index)
        loss, parts = contrastive_divergence(self.energy_net.energy(x), self.energy_net.energy(chains), c.alpha)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps += 1
        self.last_starts, self.last_chains = starts, chains
        record = {"step": self.steps, **{k: float(v) for k, v in parts.items()}}
        worst = max(abs(record["energy_data"]), abs(record["energy_sample"]))
        if not math.isfinite(worst) or worst > ENERGY_LIMIT:
            record[f"|energy| above {ENERGY_LIMIT:g}"] = float("inf")    # the session freezes the model
        self.history.append(record)
        return {k: v for k, v in record.items() if k != "step"}

    #: What the live pages say when the session freezes a diverged ToyEBM.
    divergence_message = (f"its energies passed ±{ENERGY_LIMIT:g}, so the chains no longer follow them. It is frozen. "
                          "Energy-based models diverge when the sampler cannot keep up with the energy: use more SGLD "
                          "steps, a smaller step size or learning rate, or a larger L2 energy penalty α, and start again.")

    def energy_field(self, resolution: int = 70) -> tuple[np.ndarray, np.ndarray]:
        axis = np.linspace(-self.limit, self.limit, resolution, dtype=np.float32)
        gx, gy = np.meshgrid(axis, axis)
        with torch.no_grad():
            values = self.energy_net.energy(torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1)))
        return axis, values.view(resolution, resolution).numpy()

    def view(self, chains: int = 150) -> LiveView:
        axis, values = self.energy_field()
        background = Field(axis, values, "energy E(x) (low: likely)", colorscale="Viridis")
        starts, ends = self.last_starts[:chains].numpy(), self.last_chains[:chains].numpy()
        return LiveView("EBM", self.steps, background, self.last_chains[:PANEL_POINTS].numpy(), points_label="SGLD chains (this step)",
                        arrows=(starts, ends - starts), arrows_label="chain moves this step")

    def metrics(self) -> None:
        return None


def live_session(config: ToyEBMConfig) -> LiveSession:
    model = ToyEBM(config)
    return LiveSession({"ebm": model}, real=model.pool[:PANEL_POINTS].numpy(), step_unit="Adam steps")


# ------------------------------------------------------------------- comparing image models
def sample_chains(model: EnergyNet, n: int, sampler, generator: torch.Generator, y: torch.Tensor | None = None,
                  starts: torch.Tensor | None = None, trajectory: bool = False):
    """n chains from uniform noise (or `starts`) on a trained model, for class `y` where given; the
    sampler is an SGLD or a ProximalSGLD. Returns what the sampler returns."""
    shape = (model.channels, model.image_size, model.image_size)
    x0 = starts if starts is not None else uniform_noise(n, shape, generator)
    x0 = x0.to(next(model.parameters()).device)
    if isinstance(sampler, ProximalSGLD):
        return sampler.run(model, x0, generator, y=y, trajectory=trajectory)
    return sampler.run(model.energy, x0, generator, y=y, trajectory=trajectory)


def judge_distance(judge, images: torch.Tensor, reference_features: np.ndarray) -> float:
    """The classifier-feature Fréchet distance of `images` (upscaled to the judge's side the way the
    data were, dgm_core.data.builtin.resize) to the reference features."""
    from dgm_core.data.builtin import resize
    from dgm_core.features import classifier_features
    from dgm_core.metrics import frechet_distance

    return frechet_distance(classifier_features(judge, resize(images.clamp(0, 1), judge.image_size)),
                            reference_features)


def chains_report(model: EnergyNet, sampler, starts: torch.Tensor, judge, reference_features: np.ndarray,
                  generator: torch.Generator) -> dict:
    """Run `sampler` from `starts` on `model`; the judge's Fréchet distance of the starts and of the
    final chains to the reference (test) features, and the chains' mean energy after each SGLD step."""
    x, _, energies = sample_chains(model, len(starts), sampler, generator, starts=starts)
    with torch.no_grad():
        final = float(model.energy(x).mean())
    return {"samples": x.cpu(), "fid_start": judge_distance(judge, starts, reference_features),
            "fid_chains": judge_distance(judge, x, reference_features),
            "energy_curve": [float(e.mean()) for e in energies] + [final]}


def recipe_sampler(run: dict):
    """The sampler a checkpoint was trained with, rebuilt from its recorded settings (history "run")."""
    if run.get("model") == "jempp":
        return ProximalSGLD(steps=run.get("sgld_steps", 5), inner=run.get("inner_steps", 3),
                            step_size=run.get("proximal_step", 1.0), grad_clip=run.get("grad_clip", 0.01))
    noise = run.get("sgld_noise", 0.01)
    end = run.get("sgld_noise_end")
    return SGLD(steps=run.get("sgld_steps", 20), step_size=run.get("sgld_step_size", 1.0), sigma_start=noise,
                sigma_end=noise if end is None else end, grad_clip=run.get("grad_clip", 0.03))
