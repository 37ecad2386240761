"""The image GAN recipes: GAN, WGAN, WGAN-GP and the conditional GAN, one class each, sharing one step.

The step is the recipe's own (`owns_step`): a discriminator / critic update on every batch and a
generator update on every `n_critic`-th (Arjovsky et al.'s Algorithm 1). The recipe counts the
generator updates it has made and keeps the count in its state, so a resumed run goes on counting
where it stopped; each epoch records it, since models with different n_critic are compared at
matched generator updates, not epochs.
"""
from __future__ import annotations

import argparse

import torch

from dgm_core import classifier as classifier_lib
from dgm_core import gan as gan_lib
from training.recipes.base import Recipe


class GANRecipe(Recipe):
    name = "gan"
    summary = "DCGAN-style GAN, non-saturating or saturating loss (Goodfellow et al. 2014)"
    datasets = ("digits", "shapes", "mnist-5k", "mnist", "fashion-mnist", "folder:PATH")
    defaults = {"dataset": "digits", "epochs": 40, "batch_size": 64, "lr": 2e-4}
    n_critic = 1
    owns_step = True
    supports = frozenset({"amp", "ddp"})
    unsupported_because = ("its alternating discriminator and generator updates are not compiled, and WGAN-GP's "
                           "double backward could not be")

    def __init__(self, args):
        super().__init__(args)
        self.generator_updates = 0
        self._judge = None           # the Fréchet classifier and the test set's features, loaded once

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        p.add_argument("--latent-dim", type=int, default=100, help="size of z; default 100")
        p.add_argument("--width", type=int, default=32, help="channels of the first convolution; default 32")
        p.add_argument("--n-critic", type=int, default=cls.n_critic,
                       help=f"discriminator updates per generator update; default {cls.n_critic}")
        p.add_argument("--clip", type=float, default=0.01, help="WGAN weight clip; default 0.01")
        p.add_argument("--gp-lambda", type=float, default=10.0, help="WGAN-GP penalty weight λ; default 10")
        p.add_argument("--generator-loss", choices=["non-saturating", "saturating"], default="non-saturating")
        p.add_argument("--fid-classifier", default=None,
                       help="checkpoint whose features give the per-epoch Fréchet distance (default: the dataset's "
                            "shipped judge, classifier-digits or classifier-mnist-5k, none for others; '' to skip)")
        p.add_argument("--fid-samples", type=int, default=1000, help="generated images per FID estimate")

    def build(self, train_data):
        a = self.args
        if a.fid_classifier is None:
            from dgm_core.catalogue import JUDGES

            a.fid_classifier = JUDGES.get(a.dataset, "")
        return gan_lib.ImageGAN(self.name, image_size=train_data.image_size, channels=train_data.num_channels,
                                latent_dim=a.latent_dim, width=a.width,
                                num_classes=len(train_data.class_names) if self.name == "cgan" else 0,
                                generator_loss=a.generator_loss)

    def optimizer(self):
        return gan_lib.image_gan_optimizer(self.model, self.args.lr)

    def wrap(self, wrap):
        """The discriminator's and the generator's objectives, each wrapped on its own (DDP under torchrun)."""
        return gan_lib.ImageGANLosses.of(self.model, self.args.gp_lambda, wrap)

    def step(self, step_model, x, y, optimizer, step, autocast):
        update_generator = (step + 1) % self.args.n_critic == 0
        metrics = gan_lib.image_gan_step(self.model, x, y, optimizer.generator, optimizer.discriminator,
                                         update_generator=update_generator, clip=self.args.clip,
                                         gp_lambda=self.args.gp_lambda, losses=step_model, autocast=autocast)
        self.generator_updates += update_generator
        return metrics

    def evaluate(self, test):
        """Fréchet distance to the test images in the classifier's feature space, the classifier's
        class histogram of the samples (mode collapse shows as empty classes) and their feature spread."""
        metrics = {"generator_updates": self.generator_updates}
        a, model = self.args, self.model
        if not a.fid_classifier:
            return metrics
        from dgm_core.checkpoints import load_checkpoint
        from dgm_core.features import classifier_features
        from dgm_core.metrics import frechet_distance

        if self._judge is None:
            judge = load_checkpoint(a.fid_classifier, expected=classifier_lib.ImageClassifier).model
            self._judge = (judge, classifier_features(judge, test.images))
        judge, real = self._judge
        labels = torch.arange(a.fid_samples) % model.num_classes if model.num_classes else None
        fake_images = model.sample(a.fid_samples, labels=labels, seed=a.seed).cpu()
        fake = classifier_features(judge, fake_images)
        predicted = classifier_lib.predict(judge, fake_images)
        metrics.update({"fid_classifier": frechet_distance(real, fake),
                        "class_histogram": torch.bincount(predicted, minlength=judge.num_classes).tolist(),
                        "feature_spread": float(fake.std(0).mean()), "real_feature_spread": float(real.std(0).mean())})
        if labels is not None:
            metrics["label_accuracy"] = float((predicted == labels).float().mean())
        return metrics

    def samples(self):
        if self.model.num_classes:       # the class-conditional grid: one row per class
            return gan_lib.class_grid(self.model, seed=self.args.seed).cpu()
        return self.model.sample(64, seed=self.args.seed).cpu()

    def snapshot(self) -> bytes:
        """The generator's weights in float16 (half the bytes; `gan.load_snapshot` casts them back)."""
        from safetensors.torch import save

        state = self.model.generator.state_dict()
        return save({k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous() for k, v in state.items()})

    def final(self, test):
        a = self.args
        return {"fid_features": f"{a.fid_classifier} penultimate features" if a.fid_classifier else None}

    def state_dict(self):
        return {"generator_updates": self.generator_updates}

    def load_state_dict(self, state):
        self.generator_updates = int(state["generator_updates"])


class WGANRecipe(GANRecipe):
    name = "wgan"
    summary = "WGAN with weight clipping and RMSprop (Arjovsky et al. 2017)"
    defaults = {**GANRecipe.defaults, "lr": 5e-5}
    n_critic = 5


class WGANGPRecipe(GANRecipe):
    name = "wgan-gp"
    summary = "WGAN-GP: gradient penalty, no batch norm in the critic (Gulrajani et al. 2017)"
    defaults = {**GANRecipe.defaults, "lr": 1e-4}
    n_critic = 5


class ConditionalGANRecipe(GANRecipe):
    name = "cgan"
    summary = "conditional GAN with feature matching (Mirza & Osindero 2014; Salimans et al. 2016)"
