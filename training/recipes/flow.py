"""The normalizing-flow recipes: RealNVP on discrete images (Dinh et al., 2017), and the VAE whose
prior is a RealNVP (dgm_core/vae_flow_prior.py)."""
from __future__ import annotations

import argparse

import torch

from dgm_core import flow
from dgm_core.data.registry import DATASETS
from training.recipes.base import Recipe
from training.recipes.vae import VAERecipe


def _dataset_levels(dataset: str) -> int:
    info = DATASETS.get(dataset)
    return info.levels if info is not None else 256


class RealNVPRecipe(Recipe):
    name = "realnvp"
    summary = "multi-scale RealNVP on discrete images, bits/dim with every log-det counted (Dinh et al. 2017)"
    datasets = ("digits", "shapes", "mnist-5k", "mnist", "fashion-mnist", "folder:PATH")
    defaults = {"dataset": "digits", "epochs": 50, "batch_size": 64, "lr": 1e-3}

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        p.add_argument("--levels", type=int, default=None,
                       help="grey levels the model sees (default: the dataset's own: digits 17, shapes 2, others 256)")
        p.add_argument("--width", type=int, default=32, help="channels of each coupling network; default 32")
        p.add_argument("--blocks", type=int, default=1, help="residual blocks per coupling network; default 1")
        p.add_argument("--scales", type=int, default=2, help="scales of the multi-scale architecture; default 2")
        p.add_argument("--dequantization", choices=["uniform", "variational"], default="uniform",
                       help="uniform noise, or a learned q(u|x) (Flow++); default uniform")
        p.add_argument("--alpha", type=float, default=0.05, help="α of the logit transform; default 0.05")

    # the data's own resolution: a density over 784 interpolated pixels measures the interpolation
    native_resolution = True

    def build(self, train_data):
        a = self.args
        levels = a.levels or _dataset_levels(a.dataset)
        return flow.RealNVP(image_size=train_data.image_size, channels=train_data.num_channels, levels=levels,
                            width=a.width, blocks=a.blocks, scales=a.scales, dequantization=a.dequantization,
                            alpha=a.alpha)

    def loss(self, step_model, x, y, step):
        return flow.training_loss(step_model, x, self.model.pixels)

    def evaluate(self, test):
        """Test bits/dim with the same dequantization noise at every epoch (a generator seeded with
        --seed), so the curve compares epochs and leaves the training RNG alone."""
        device = next(self.model.parameters()).device
        self.model.eval()
        generator = torch.Generator(device).manual_seed(self.args.seed)
        bpd = flow.image_bits_per_dim(self.model, test.images, generator)
        self.model.train()
        return {"test_bits_per_dim": float(bpd.mean())}

    selects_on = "valid_bits_per_dim"

    def validate(self, valid, train):
        """Bits/dim of the validation images and of as many training images, same noise as `evaluate`: on
        3,500 training images (mnist-5k) the two curves part as the flow overfits, and the epoch kept is the
        validation curve's lowest."""
        device = next(self.model.parameters()).device
        self.model.eval()
        result = {}
        for name, part in (("valid", valid), ("train", train)):
            generator = torch.Generator(device).manual_seed(self.args.seed)
            with torch.no_grad():
                bpd = flow.image_bits_per_dim(self.model, part.images, generator)
            result[f"{name}_bits_per_dim"] = float(bpd.mean())
        self.model.train()
        return result

    def samples(self):
        device = next(self.model.parameters()).device
        return self.model.sample(64, generator=torch.Generator(device).manual_seed(self.args.seed)).cpu()

    def final(self, test):
        """Test bits/dim averaged over 8 dequantization draws per image, with its standard error."""
        device = next(self.model.parameters()).device
        generator = torch.Generator(device).manual_seed(self.args.seed + 1)
        draws = torch.stack([flow.image_bits_per_dim(self.model, test.images, generator) for _ in range(8)])
        per_image = draws.mean(0)
        return {"test": {"images": int(len(per_image)), "levels": self.model.levels, "draws": 8,
                         "bits_per_dim": float(per_image.mean()),
                         "standard_error": float(per_image.std() / len(per_image) ** 0.5)}}


class FlowPriorVAERecipe(VAERecipe):
    name = "vae-flow-prior"
    summary = "the VAE with a RealNVP prior over z, trained jointly (Chen et al. 2017; Tomczak & Welling 2018)"

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--prior-couplings", type=int, default=4, help="coupling layers of the prior; default 4")
        p.add_argument("--prior-hidden", type=int, default=64, help="width of the prior's coupling MLPs; default 64")

    def build(self, train_data):
        from dgm_core.vae_flow_prior import FlowPriorVAE

        a = self.args
        return FlowPriorVAE(image_size=train_data.image_size, channels=train_data.num_channels,
                            latent_dim=a.latent_dim, width=a.width, likelihood=a.likelihood, hidden=a.hidden,
                            prior_couplings=a.prior_couplings, prior_hidden=a.prior_hidden, levels=a.levels,
                            binarisation=a.binarisation)

    def final(self, test):
        """The IWAE curve of the VAE; the KL per dimension to N(0, I) means nothing with a learned prior."""
        result = super().final(test)
        result.pop("kl_per_dim", None)
        return result
