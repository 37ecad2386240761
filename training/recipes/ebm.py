"""The energy-based recipes: an EBM by contrastive divergence, a class-conditional EBM E(x, y), JEM
(Grathwohl et al., 2020) and JEM++ (Yang & Ji, 2021). Each keeps its replay buffer as recipe state,
so `--resume` continues the same chains.

Chains draw from the global RNG, which the loop seeds per rank and saves and restores with the
resume state: a resumed run draws the same noise as an uninterrupted one."""
from __future__ import annotations

import argparse
import math

import torch

from dgm_core import ebm
from training.recipes.base import Recipe


class EBMRecipe(Recipe):
    name = "ebm"
    summary = "energy-based model by contrastive divergence with SGLD and a replay buffer (Du & Mordatch 2019)"
    datasets = ("digits", "shapes", "mnist-5k", "mnist", "fashion-mnist", "folder:PATH")
    defaults = {"dataset": "digits", "epochs": 30, "batch_size": 64, "lr": 1e-3}
    divergence_advice = ebm.DIVERGENCE_ADVICE
    outputs = 1                         # 1: an energy; K: logits of the K classes

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        p.add_argument("--width", type=int, default=32, help="channels of the energy network")
        p.add_argument("--sgld-steps", type=int, default=20, help="SGLD steps per training step")
        p.add_argument("--sgld-step-size", type=float, default=1.0, help="SGLD step ε on ∇E")
        p.add_argument("--sgld-noise", type=float, default=0.01, help="SGLD noise σ at the first step")
        p.add_argument("--sgld-noise-end", type=float, default=None,
                       help="σ at the last step (a geometric schedule); default: the same as --sgld-noise")
        p.add_argument("--grad-clip", type=float, default=0.03, help="clamp each component of ∇E")
        p.add_argument("--init", choices=["buffer", "noise"], default="buffer",
                       help="chains start from the replay buffer or from fresh uniform noise")
        p.add_argument("--buffer-size", type=int, default=1000, help="replay buffer size")
        p.add_argument("--reinit", type=float, default=0.05, help="share of each batch started afresh")
        p.add_argument("--alpha", type=float, default=0.1, help="weight of the L2 energy penalty")

    # the data's own resolution (digits 8x8): each SGLD step is a forward and backward pass, and on a CPU
    # 28x28 upscaled digits cost 12 times as much for no more information. Samples are upscaled the way
    # the data were (dgm_core.data.builtin.resize) where a 28x28 judge scores them.
    native_resolution = True

    def build(self, train_data):
        self.shape = (train_data.num_channels, train_data.image_size, train_data.image_size)
        self.num_classes = len(getattr(train_data, "class_names", [])) or 10
        return ebm.EnergyNet(image_size=train_data.image_size, channels=train_data.num_channels, width=self.args.width,
                             outputs=self.outputs if self.outputs == 1 else self.num_classes)

    buffer_classes = False              # True: one buffer block per class (the class-conditional model)

    def setup(self, train_data, steps_per_epoch, device):
        model = super().setup(train_data, steps_per_epoch, device)
        self.device = device
        self.prepare(train_data)
        self.sampler = self.make_sampler()
        self.buffer = ebm.ReplayBuffer(self.args.buffer_size, self.shape, self.fresh, reinit=self.args.reinit,
                                       num_classes=self.num_classes if self.buffer_classes else None)
        return model

    def prepare(self, train_data) -> None:
        """Anything the chains' starts need from the training data (JEM++: its per-class Gaussians)."""

    # -- chains
    def make_sampler(self):
        a = self.args
        return ebm.SGLD(steps=a.sgld_steps, step_size=a.sgld_step_size, sigma_start=a.sgld_noise,
                        sigma_end=a.sgld_noise if a.sgld_noise_end is None else a.sgld_noise_end, grad_clip=a.grad_clip)

    def fresh(self, n: int, generator=None):
        return ebm.uniform_noise(n, self.shape, generator)

    def starts(self, n: int, y=None):
        """Chain starts and their buffer indices (None when every chain starts from fresh noise)."""
        if self.args.init == "noise":
            return self.fresh(n), None
        return self.buffer.sample(n, y=y)

    def chains(self, n: int, y=None):
        """Samples for one training step: SGLD from the starts (for classes `y` where given), written
        back to the buffer."""
        x0, index = self.starts(n, y)
        x, _, _ = self.run_sampler(x0.to(self.device), y)
        if index is not None:
            self.buffer.push(x.cpu(), index)
        return x

    def run_sampler(self, x0, y=None, generator=None):
        return self.sampler.run(self.model.energy, x0, generator, y=y)

    # -- the step
    def loss(self, step_model, x, y, step):
        samples = self.chains(len(x))
        e_data, e_sample = self.model.energy(x), self.model.energy(samples)
        loss, metrics = ebm.contrastive_divergence(e_data, e_sample, self.args.alpha)
        return loss, self.guard(metrics, e_data, e_sample)

    def guard(self, metrics: dict, e_data, e_sample) -> dict:
        """The divergence guard: energies beyond ebm.ENERGY_LIMIT become an infinite metric, which the
        loop reports with this recipe's advice, keeping the last good checkpoint."""
        worst = max(float(e_data.detach().abs().max()), float(e_sample.detach().abs().max()))
        if not math.isfinite(worst) or worst > ebm.ENERGY_LIMIT:
            metrics = {**metrics, f"|energy| above {ebm.ENERGY_LIMIT:g}": float("inf")}
        return metrics

    # -- measuring
    def evaluate(self, test):
        device = self.device
        with torch.no_grad():
            e = self.model.energy(test.images[:500].to(device))
        return {"test_energy": float(e.mean())}

    def samples(self):
        """64 chains of the buffer (spread over its classes where it has them); with --init noise, 64
        fresh chains from uniform noise (seeded with --seed, so every epoch's grid starts the same)."""
        if self.args.init == "noise":
            generator = torch.Generator().manual_seed(self.args.seed)
            with torch.enable_grad():
                x, _, _ = self.run_sampler(self.fresh(64, generator).to(self.device), generator=generator)
            return x.clamp(0, 1).cpu()
        index = torch.linspace(0, len(self.buffer.samples) - 1, 64).long()
        return self.buffer.samples[index].clamp(0, 1).cpu()

    # -- state
    def state_dict(self):
        return {"buffer": self.buffer.state_dict()}

    def load_state_dict(self, state):
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])


class ConditionalEBMRecipe(EBMRecipe):
    name = "ebm-cond"
    summary = "class-conditional energy E(x, y) = −f(x)[y] by contrastive divergence, one buffer block per class"
    outputs = 10
    buffer_classes = True

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        # 40 SGLD steps per training step: with fewer, chains started from noise mostly do not become the
        # class asked (docs/experiments.md).
        p.set_defaults(sgld_steps=40)

    def loss(self, step_model, x, y, step):
        samples = self.chains(len(x), y)        # chains of the batch's own classes
        e_data, e_sample = self.model.energy(x, y), self.model.energy(samples, y)
        loss, metrics = ebm.contrastive_divergence(e_data, e_sample, self.args.alpha)
        return loss, self.guard(metrics, e_data, e_sample)


class JEMRecipe(EBMRecipe):
    name = "jem"
    summary = "JEM: a classifier as a joint energy model, E(x) = −logsumexp f(x) (Grathwohl et al. 2020)"
    outputs = 10

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--generative-weight", type=float, default=1.0,
                       help="weight of the log p(x) term (0: the plain classifier of the same network)")
        # α = 0.01: the L2 energy penalty must keep JEM++'s energies from running away without holding the
        # logits down so far that JEM cannot learn to classify (docs/experiments.md).
        p.set_defaults(alpha=0.01)

    def loss(self, step_model, x, y, step):
        samples = self.chains(len(x)) if self.args.generative_weight > 0 else None
        loss, metrics = ebm.jem_loss(step_model, x, y, samples, self.args.generative_weight, self.args.alpha)
        if samples is not None:
            with torch.no_grad():
                e_data, e_sample = self.model.energy(x), self.model.energy(samples)
            metrics = self.guard(metrics, e_data, e_sample)
        return loss, metrics

    def evaluate(self, test):
        from dgm_core.classifier import evaluate as classify

        return {**super().evaluate(test), **{f"test_{k}": v for k, v in
                                              classify(self.model, test.images, test.labels).items()}}


class JEMPPRecipe(JEMRecipe):
    name = "jempp"
    summary = "JEM++: informative per-class Gaussian starts and proximal SGLD (Yang & Ji 2021)"

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--inner-steps", type=int, default=3, help="proximal inner steps per SGLD step")
        p.add_argument("--proximal-step", type=float, default=1.0, help="step η of the inner steps")
        # Each inner step repeats the outer gradient (layer_one is linear), so a pixel moves up to
        # inner × clip per outer step: the clip is kept small (0.01) so the steps do not overshoot, and
        # η = 1 so the chains move at all (docs/experiments.md).
        p.set_defaults(sgld_steps=5, grad_clip=0.01)

    def prepare(self, train_data) -> None:
        images = getattr(train_data, "images", None)
        labels = getattr(train_data, "labels", None)
        if images is None:
            images = torch.stack([train_data[i][0] for i in range(len(train_data))])
            labels = torch.tensor([int(train_data[i][1]) for i in range(len(train_data))])
        self.gaussians = ebm.ClassGaussians(images, labels, self.num_classes)

    def make_sampler(self):
        a = self.args
        return ebm.ProximalSGLD(steps=a.sgld_steps, inner=a.inner_steps, step_size=a.proximal_step,
                                grad_clip=a.grad_clip)

    def fresh(self, n: int, generator=None):
        return self.gaussians.sample(n, generator)[0]

    def run_sampler(self, x0, y=None, generator=None):
        return self.sampler.run(self.model, x0, generator, y=y)
