"""The VAE / β-VAE recipe (Kingma & Welling 2014; Higgins et al. 2017)."""
from __future__ import annotations

import argparse

import torch

from dgm_core import vae as vae_lib
from dgm_core.metrics import mutual_information_gap
from training.recipes.base import Recipe


class VAERecipe(Recipe):
    name = "vae"
    summary = "convolutional VAE / β-VAE (Kingma & Welling 2014; Higgins et al. 2017)"
    datasets = ("digits", "shapes", "mnist-5k", "mnist", "fashion-mnist", "svhn", "cifar10", "celeba", "folder:PATH")
    defaults = {"dataset": "digits", "epochs": 30, "batch_size": 64, "lr": 1e-3}
    short_run_flags = ("--nll-images", "1", "--nll-k", "1")

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        p.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (β-VAE); default 1")
        p.add_argument("--beta-schedule", choices=["constant", "warmup", "cyclical"], default="constant",
                       help="how β grows during training; default constant")
        p.add_argument("--warmup-steps", type=int, default=500, help="steps of the linear β warm-up; default 500")
        p.add_argument("--cycles", type=int, default=4, help="number of cycles of the cyclical schedule; default 4")
        p.add_argument("--latent-dim", type=int, default=10, help="latent dimensions; default 10")
        p.add_argument("--width", type=int, default=32, help="channels of the first convolution; default 32")
        p.add_argument("--hidden", type=int, default=0,
                       help="width of a hidden dense layer in encoder and decoder (0: none); default 0")
        p.add_argument("--likelihood", choices=["bernoulli", "gaussian", "categorical"], default="bernoulli",
                       help="decoder likelihood; Bernoulli binarises the images; categorical is a softmax over "
                            "--levels grey levels per pixel; default bernoulli")
        p.add_argument("--binarisation", choices=["threshold", "dynamic"], default="threshold",
                       help="how a Bernoulli decoder's images are made binary: threshold ½, or a fresh Bernoulli draw "
                            "of every pixel at each step, measured on one fixed draw (Burda et al. 2016); default threshold")
        p.add_argument("--levels", type=int, default=17,
                       help="grey levels of the categorical likelihood (digits: 17); default 17")
        p.add_argument("--nll-images", type=int, default=100,
                       help="test images for the final IWAE estimate (0 skips it); default 100")
        p.add_argument("--nll-k", type=int, default=1000, help="largest k of the final IWAE estimate; default 1000")

    def build(self, train_data):
        a = self.args
        return vae_lib.ConvVAE(image_size=train_data.image_size, channels=train_data.num_channels,
                               latent_dim=a.latent_dim, width=a.width, likelihood=a.likelihood, hidden=a.hidden,
                               levels=a.levels, binarisation=a.binarisation)

    def setup(self, train_data, steps_per_epoch, device):
        model = super().setup(train_data, steps_per_epoch, device)
        a = self.args
        self.beta = vae_lib.BetaSchedule(a.beta_schedule, a.beta, a.warmup_steps, self.total_steps, a.cycles)
        return model

    def loss(self, step_model, x, y, step):
        return vae_lib.training_loss(step_model, vae_lib.prepare_batch(self.model, x, fresh=True), self.beta(step))

    def evaluate(self, test):
        metrics = vae_lib.evaluate(self.model, test.images)
        if test.factor_index is not None:
            device = next(self.model.parameters()).device
            mu, _ = vae_lib.encode_means(self.model, vae_lib.prepare_batch(self.model, test.images.to(device)))
            metrics["mig"] = mutual_information_gap(mu.cpu().numpy(), test.factor_index.numpy())
        return metrics

    def samples(self):
        device = next(self.model.parameters()).device
        return self.model.sample(64, generator=torch.Generator(device).manual_seed(self.args.seed)).cpu()

    def final(self, test):
        """ELBO versus IWAE estimates as k grows, on the first `nll_images` test images (Burda et al.,
        2016). The samples come from a generator seeded with --seed (reproducible, and the global RNG
        is left alone); iwae_log_likelihood decodes at most vae.DECODE_BATCH points at once, whatever
        the number of images and k."""
        a, model = self.args, self.model
        if a.nll_images <= 0:
            return {}
        device = next(model.parameters()).device
        x = vae_lib.prepare_batch(model, test.images[:a.nll_images].to(device))
        generator = torch.Generator(device).manual_seed(a.seed)
        curve = []
        for k in (k for k in (1, 10, 100, 1000, 5000) if k <= a.nll_k):
            per_image = -vae_lib.iwae_log_likelihood(model, x, k, generator=generator)
            nll = per_image.mean().item()
            # a standard error needs two images at least; with one it is unknown (None), never NaN
            spread = float(per_image.std() / len(per_image) ** 0.5) if len(per_image) > 1 else None
            curve.append({"k": k, "nll_nats": nll, "standard_error": spread,
                          "bits_per_dim": vae_lib.bits_per_dim(nll, model.pixels)})
        mu, logvar = vae_lib.encode_means(model, x)
        return {"nll": {"images": int(len(x)), "curve": curve}, "kl_per_dim": vae_lib.kl_per_dimension(mu, logvar).tolist()}
