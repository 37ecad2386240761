"""Image GANs: DCGAN-style generator and discriminator / critic (Radford et al., 2016), `ImageGAN`
(a HubModel, saved and loaded as one), the objectives of one update as modules (for DistributedDataParallel),
one training step, the optimisers, and training snapshots."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.gan.objectives import (
    KINDS,
    clip_weights,
    critic_generator_loss,
    critic_loss,
    discriminator_loss,
    feature_matching_loss,
    generator_loss_non_saturating,
    generator_loss_saturating,
    gradient_penalty,
)
from dgm_core.generative import GenerativeModel, Interpolation, Likelihood
from dgm_core.hub import HubModel


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



class ImageGAN(HubModel, GenerativeModel):
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
        self.image_size = image_size
        self.generator_loss = generator_loss
        self.generator = DCGANGenerator(image_size, channels, latent_dim, width, self.num_classes)
        self.discriminator = DCGANDiscriminator(image_size, channels, width, self.num_classes,
                                                batch_norm=kind != "wgan-gp")

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None,
               seed: int = 0, batch: int = 1024) -> torch.Tensor:
        """n images G(z), z drawn from `generator` (or from one seeded with `seed`), in eval mode (batch norm
        uses its running statistics, so each image is independent of the others) and at most `batch` at a
        time, so the memory of a large evaluation stays bounded. A conditional GAN draws the classes 0,
        1, 2, … in turn unless `labels` are given."""
        device = next(self.parameters()).device
        generator = generator if generator is not None else torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        if self.num_classes and labels is None:
            labels = torch.arange(n, device=device) % self.num_classes
        was_training = self.generator.training
        self.generator.eval()
        images = torch.cat([self.generator(z[i:i + batch], None if labels is None else labels[i:i + batch])
                            for i in range(0, n, batch)])
        self.generator.train(was_training)
        return images

    # -- the generative-model protocol (dgm_core.generative)
    def sampling_note(self) -> str:
        return "z ~ N(0, I), then G(z)" + (" for digits 0–9 in turn" if self.num_classes else "")

    @torch.no_grad()
    def interpolate(self, ends: torch.Tensor, points: int, generator: torch.Generator) -> Interpolation:
        """A GAN has no encoder: the line runs between two draws of z (the images `ends` are not used)."""
        z = torch.randn(2, self.latent_dim, generator=generator)
        path = torch.stack([torch.lerp(z[0], z[1], t) for t in torch.linspace(0, 1, points).tolist()])
        labels = torch.full((points,), 3) if self.num_classes else None
        was_training = self.generator.training
        self.generator.eval()
        images = self.generator(path, labels)
        self.generator.train(was_training)
        return Interpolation(images, "two draws z ~ N(0, I) (a GAN has no encoder)" +
                             (", both as the digit 3" if labels is not None else ""))

    def likelihood_of(self, images: torch.Tensor, generator: torch.Generator, importance: int) -> Likelihood:
        return Likelihood(None, None, f"none: a GAN's samples lie on the image of a {self.latent_dim}-dimensional z, "
                                      "so it defines no density over the pixels (an implicit model)")

    def sampling_modules(self) -> list[nn.Module]:
        return [self.generator]


def class_grid(model: ImageGAN, per_class: int = 8, seed: int = 0) -> torch.Tensor:
    """The class-conditional sample grid: `per_class` samples of each class, one row per class."""
    device = next(model.parameters()).device
    labels = torch.arange(model.num_classes, device=device).repeat_interleave(per_class)
    return model.sample(len(labels), labels=labels, seed=seed)


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



# ------------------------------------------------- comparing trained image GANs fairly
#: Below this share of samples a class counts as dropped (fewer than 10 of 1,000; a fair share is 10 %).
DROPPED_SHARE = 0.01
