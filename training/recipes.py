"""What `training.run` knows about each model: its flags and defaults, how to build it, its loss
(or, for a model with its own update rule, its step), and what to measure. The mathematics itself
lives in dgm_core; a recipe only connects it to the generic loop in training/loop.py.

Two shapes of step, as in nanoGPT's train.py:
- `loss`: the recipe returns a loss; the loop owns autocast, backward and the optimiser step, so
  every flag (--amp, --compile, torchrun) applies to it.
- `step`: the recipe runs its own update (a GAN's alternating discriminator and generator
  updates). It declares in `supports` the flags it honours; `training.run` refuses the others.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import torch

from dgm_core import classifier as classifier_lib
from dgm_core import gan as gan_lib
from dgm_core import vae as vae_lib
from dgm_core.metrics import mutual_information_gap

#: The run flags a recipe can honour: --amp bf16, --compile, and torchrun (DistributedDataParallel).
FLAGS = frozenset({"amp", "compile", "ddp"})


@dataclass
class Recipe:
    name: str
    summary: str
    datasets: tuple[str, ...]
    defaults: dict                       # dataset, epochs, batch_size, lr
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable                      # (args, train_data) -> model
    optimizer: Callable                  # (model, args) -> torch.optim.Optimizer
    evaluate: Callable                   # (model, test_data, args) -> metrics per epoch
    samples: Callable                    # (model, args) -> images (N, C, H, W) in [0, 1], or None
    final: Callable                      # (model, test_data, args) -> extra history entries
    loss: Callable | None = None         # (step_model, model, x, y, global_step, args) -> (loss, metrics)
    step: Callable | None = None         # (step_model, model, x, y, optimizer, global_step, args, autocast) -> metrics
    wrap: Callable | None = None         # (model, args, wrap) -> step_model; default wrap(model)
    snapshot: Callable | None = None     # (model) -> bytes written to snapshots/epoch-NNN.safetensors
    supports: frozenset = FLAGS          # which of FLAGS the recipe honours
    unsupported_because: str = ""        # why the others are not, for the refusal message


# ------------------------------------------------------------------------------------ VAE
def _vae_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (β-VAE); default 1")
    p.add_argument("--beta-schedule", choices=["constant", "warmup", "cyclical"], default="constant",
                   help="how β grows during training; default constant")
    p.add_argument("--warmup-steps", type=int, default=500, help="steps of the linear β warm-up; default 500")
    p.add_argument("--cycles", type=int, default=4, help="number of cycles of the cyclical schedule; default 4")
    p.add_argument("--latent-dim", type=int, default=10, help="latent dimensions; default 10")
    p.add_argument("--width", type=int, default=32, help="channels of the first convolution; default 32")
    p.add_argument("--hidden", type=int, default=0,
                   help="width of a hidden dense layer in encoder and decoder (0: none); default 0")
    p.add_argument("--likelihood", choices=["bernoulli", "gaussian"], default="bernoulli",
                   help="decoder likelihood; Bernoulli binarises the images; default bernoulli")
    p.add_argument("--nll-images", type=int, default=100,
                   help="test images for the final IWAE estimate (0 skips it); default 100")
    p.add_argument("--nll-k", type=int, default=1000, help="largest k of the final IWAE estimate; default 1000")


def _vae_build(args, train_data):
    return vae_lib.ConvVAE(image_size=train_data.image_size, channels=train_data.num_channels,
                           latent_dim=args.latent_dim, width=args.width, likelihood=args.likelihood,
                           hidden=args.hidden)


def _vae_loss(step_model, model, x, y, global_step, args):
    schedule = vae_lib.BetaSchedule(args.beta_schedule, args.beta, args.warmup_steps, args.total_steps, args.cycles)
    return vae_lib.training_loss(step_model, vae_lib.prepare_batch(model, x), schedule(global_step))


def _vae_evaluate(model, test_data, args):
    images = test_data.images
    metrics = vae_lib.evaluate(model, images)
    factors = test_data.factor_index
    if factors is not None:
        mu, _ = vae_lib.encode_means(model, vae_lib.prepare_batch(model, images.to(next(model.parameters()).device)))
        metrics["mig"] = mutual_information_gap(mu.cpu().numpy(), factors.numpy())
    return metrics


def _vae_samples(model, args):
    return model.sample(64, generator=torch.Generator(next(model.parameters()).device).manual_seed(args.seed)).cpu()


def _vae_final(model, test_data, args):
    """ELBO versus IWAE estimates as k grows, on the first `nll_images` test images (Burda et al., 2016).
    The samples come from a generator seeded with --seed (reproducible, and the global RNG is left
    alone); iwae_log_likelihood decodes at most vae.DECODE_BATCH points at once, whatever the
    number of images and k."""
    if args.nll_images <= 0:
        return {}
    device = next(model.parameters()).device
    x = vae_lib.prepare_batch(model, test_data.images[:args.nll_images].to(device))
    ks = [k for k in (1, 10, 100, 1000, 5000) if k <= args.nll_k]
    generator = torch.Generator(device).manual_seed(args.seed)
    curve = []
    for k in ks:
        nll = -vae_lib.iwae_log_likelihood(model, x, k, generator=generator).mean().item()
        curve.append({"k": k, "nll_nats": nll, "bits_per_dim": vae_lib.bits_per_dim(nll, model.pixels)})
    mu, logvar = vae_lib.encode_means(model, x)
    per_dim = vae_lib.kl_per_dimension(mu, logvar).tolist()
    return {"nll": {"images": int(len(x)), "curve": curve}, "kl_per_dim": per_dim}


VAE = Recipe(
    name="vae",
    summary="convolutional VAE / β-VAE (Kingma & Welling 2014; Higgins et al. 2017)",
    datasets=("digits", "shapes", "mnist", "fashion-mnist", "svhn", "cifar10", "celeba", "folder:PATH"),
    defaults={"dataset": "digits", "epochs": 30, "batch_size": 64, "lr": 1e-3},
    add_arguments=_vae_arguments,
    build=_vae_build,
    optimizer=lambda model, args: torch.optim.Adam(model.parameters(), lr=args.lr),
    loss=_vae_loss,
    evaluate=_vae_evaluate,
    samples=_vae_samples,
    final=_vae_final,
)

# ----------------------------------------------------------------------------- classifier
def _classifier_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--width", type=int, default=32, help="channels of the first convolution; default 32")
    p.add_argument("--feature-dim", type=int, default=128, help="size of the penultimate features; default 128")


def _classifier_build(args, train_data):
    return classifier_lib.ImageClassifier(image_size=train_data.image_size, channels=train_data.num_channels,
                                          num_classes=len(train_data.class_names), width=args.width,
                                          feature_dim=args.feature_dim)


CLASSIFIER = Recipe(
    name="classifier",
    summary="convolutional classifier whose penultimate features give an offline Fréchet distance",
    datasets=("digits", "shapes", "mnist", "fashion-mnist", "svhn", "cifar10", "folder:PATH"),
    defaults={"dataset": "digits", "epochs": 20, "batch_size": 64, "lr": 1e-3},
    add_arguments=_classifier_arguments,
    build=_classifier_build,
    optimizer=lambda model, args: torch.optim.Adam(model.parameters(), lr=args.lr),
    loss=lambda step_model, model, x, y, global_step, args: classifier_lib.training_loss(step_model, x, y),
    evaluate=lambda model, test, args: classifier_lib.evaluate(model, test.images, test.labels),
    samples=lambda model, args: None,
    final=lambda model, test, args: {"test_class_histogram": classifier_lib.class_histogram(model, test.images).tolist()},
)

# ---------------------------------------------------------------------------------- GANs
GAN_DEFAULTS = {"gan": (2e-4, 1), "wgan": (5e-5, 5), "wgan-gp": (1e-4, 5), "cgan": (2e-4, 1)}   # lr, n_critic


def _gan_arguments(kind: str):
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--latent-dim", type=int, default=100, help="size of z; default 100")
        p.add_argument("--width", type=int, default=32, help="channels of the first convolution; default 32")
        p.add_argument("--n-critic", type=int, default=GAN_DEFAULTS[kind][1],
                       help=f"discriminator updates per generator update; default {GAN_DEFAULTS[kind][1]}")
        p.add_argument("--clip", type=float, default=0.01, help="WGAN weight clip; default 0.01")
        p.add_argument("--gp-lambda", type=float, default=10.0, help="WGAN-GP penalty weight λ; default 10")
        p.add_argument("--generator-loss", choices=["non-saturating", "saturating"], default="non-saturating")
        p.add_argument("--fid-classifier", default="classifier-digits",
                       help="checkpoint whose features give the per-epoch Fréchet distance ('' to skip)")
        p.add_argument("--fid-samples", type=int, default=1000, help="generated images per FID estimate")
    return add


def _gan_build(kind: str):
    def build(args, train_data):
        return gan_lib.ImageGAN(kind, image_size=train_data.image_size, channels=train_data.num_channels,
                                latent_dim=args.latent_dim, width=args.width,
                                num_classes=len(train_data.class_names) if kind == "cgan" else 0,
                                generator_loss=args.generator_loss)
    return build


def _gan_wrap(model, args, wrap):
    """The discriminator's and the generator's objectives, each wrapped on its own (DDP under torchrun)."""
    return gan_lib.ImageGANLosses.of(model, args.gp_lambda, wrap)


def _gan_step(step_model, model, x, y, optimizer, global_step, args, autocast):
    return gan_lib.image_gan_step(model, x, y, optimizer.generator, optimizer.discriminator,
                                  update_generator=(global_step + 1) % args.n_critic == 0,
                                  clip=args.clip, gp_lambda=args.gp_lambda, losses=step_model, autocast=autocast)


def _gan_evaluate(model, test, args):
    """Fréchet distance to the test images in the classifier's feature space, the classifier's class
    histogram of the samples (mode collapse shows as empty classes) and their feature spread."""
    if not args.fid_classifier:
        return {}
    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.features import classifier_features
    from dgm_core.metrics import frechet_distance

    if getattr(args, "_fid_cache", None) is None:
        judge = load_checkpoint(args.fid_classifier, expected=classifier_lib.ImageClassifier).model
        args._fid_cache = (judge, classifier_features(judge, test.images))
    judge, real = args._fid_cache
    labels = torch.arange(args.fid_samples) % model.num_classes if model.num_classes else None
    fake_images = model.sample(args.fid_samples, labels, seed=args.seed).cpu()
    fake = classifier_features(judge, fake_images)
    predicted = classifier_lib.predict(judge, fake_images)
    metrics = {"fid_classifier": frechet_distance(real, fake),
               "class_histogram": torch.bincount(predicted, minlength=judge.num_classes).tolist(),
               "feature_spread": float(fake.std(0).mean()), "real_feature_spread": float(real.std(0).mean())}
    if labels is not None:
        metrics["label_accuracy"] = float((predicted == labels).float().mean())
    return metrics


def _gan_samples(model, args):
    if model.num_classes:       # the class-conditional grid: one row per class
        return gan_lib.class_grid(model, seed=args.seed).cpu()
    return model.sample(64, seed=args.seed).cpu()


def _gan_snapshot(model) -> bytes:
    """The generator's weights in float16 (half the bytes; `gan.load_snapshot` casts them back)."""
    from safetensors.torch import save

    state = model.generator.state_dict()
    return save({k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous() for k, v in state.items()})


def _gan_recipe(kind: str, summary: str) -> Recipe:
    return Recipe(
        name=kind, summary=summary, datasets=("digits", "shapes", "mnist", "fashion-mnist", "folder:PATH"),
        defaults={"dataset": "digits", "epochs": 40, "batch_size": 64, "lr": GAN_DEFAULTS[kind][0]},
        add_arguments=_gan_arguments(kind), build=_gan_build(kind),
        optimizer=lambda model, args: gan_lib.image_gan_optimizer(model, args.lr),
        step=_gan_step, wrap=_gan_wrap, evaluate=_gan_evaluate, samples=_gan_samples,
        final=lambda model, test, args: {"fid_features": f"{args.fid_classifier} penultimate features"
                                         if args.fid_classifier else None},
        snapshot=_gan_snapshot, supports=frozenset({"amp", "ddp"}),
        unsupported_because="its alternating discriminator and generator updates are not compiled, and WGAN-GP's "
                            "double backward could not be")


GANS = [
    _gan_recipe("gan", "DCGAN-style GAN, non-saturating or saturating loss (Goodfellow et al. 2014)"),
    _gan_recipe("wgan", "WGAN with weight clipping and RMSprop (Arjovsky et al. 2017)"),
    _gan_recipe("wgan-gp", "WGAN-GP: gradient penalty, no batch norm in the critic (Gulrajani et al. 2017)"),
    _gan_recipe("cgan", "conditional GAN with feature matching (Mirza & Osindero 2014; Salimans et al. 2016)"),
]

RECIPES: dict[str, Recipe] = {r.name: r for r in [VAE, *GANS, CLASSIFIER]}

