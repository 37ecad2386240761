"""What `training.run` knows about each model: its flags and defaults, how to build it, one
optimisation step, and what to measure. The mathematics itself lives in dgm_core; a recipe only
connects it to the generic loop in training/loop.py."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import torch

from dgm_core import classifier as classifier_lib
from dgm_core import vae as vae_lib
from dgm_core.metrics import mutual_information_gap


@dataclass
class Recipe:
    name: str
    summary: str
    datasets: tuple[str, ...]
    defaults: dict                       # dataset, epochs, batch_size, lr
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable                      # (args, train_data) -> model
    optimizer: Callable                  # (model, args) -> torch.optim.Optimizer
    step: Callable                       # (step_model, model, x, y, optimizer, global_step, args, autocast) -> metrics
    evaluate: Callable                   # (model, test_data, args) -> metrics per epoch
    samples: Callable                    # (model, args) -> images (N, C, H, W) in [0, 1], or None
    final: Callable                      # (model, test_data, args) -> extra history entries


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


def _vae_step(step_model, model, x, y, optimizer, global_step, args, autocast):
    schedule = vae_lib.BetaSchedule(args.beta_schedule, args.beta, args.warmup_steps, args.total_steps, args.cycles)
    return vae_lib.training_step(step_model, vae_lib.prepare_batch(model, x), optimizer, schedule(global_step), autocast)


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
    """ELBO versus IWAE estimates as k grows, on the first `nll_images` test images (Burda et al., 2016)."""
    if args.nll_images <= 0:
        return {}
    device = next(model.parameters()).device
    x = vae_lib.prepare_batch(model, test_data.images[:args.nll_images].to(device))
    ks = [k for k in (1, 10, 100, 1000, 5000) if k <= args.nll_k]
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(args.seed)
    curve = []
    for k in ks:
        nll = -vae_lib.iwae_log_likelihood(model, x, k).mean().item()
        curve.append({"k": k, "nll_nats": nll, "bits_per_dim": vae_lib.bits_per_dim(nll, model.pixels)})
    torch.random.set_rng_state(generator_state)
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
    step=_vae_step,
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
    step=lambda step_model, model, x, y, optimizer, global_step, args, autocast:
        classifier_lib.training_step(step_model, x, y, optimizer, autocast),
    evaluate=lambda model, test, args: classifier_lib.evaluate(model, test.images, test.labels),
    samples=lambda model, args: None,
    final=lambda model, test, args: {"test_class_histogram": classifier_lib.class_histogram(model, test.images).tolist()},
)

RECIPES: dict[str, Recipe] = {r.name: r for r in [VAE, CLASSIFIER]}

