"""The diffusion recipes: DDPM with ε-prediction on the cosine schedule (Ho et al., 2020; Nichol & Dhariwal,
2021) and conditional flow matching (Lipman et al., 2023; Tong et al., 2024), both class-conditional with
classifier-free guidance's label dropout (Ho & Salimans, 2022), on the data's own resolution and levels."""
from __future__ import annotations

import argparse

import torch

from dgm_core.data.registry import DATASETS
from dgm_core.diffusion.image import DiffusionModel
from training.recipes.base import Recipe


class DiffusionRecipe(Recipe):
    kind = "ddpm"
    datasets = ("digits", "shapes", "mnist-5k", "mnist", "fashion-mnist", "folder:PATH")
    defaults = {"dataset": "digits", "epochs": 100, "batch_size": 128, "lr": 1e-3}
    # the data's own 8x8: a density over interpolated pixels would measure the interpolation
    native_resolution = True
    short_run_flags = ("--fd-calls", "")

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        p.add_argument("--width", type=int, default=32, help="channels of the network; default 32")
        p.add_argument("--blocks", type=int, default=2, help="residual blocks at each resolution; default 2")
        p.add_argument("--scales", type=int, default=None,
                       help="resolutions of the U-Net, each half the last (1: a flat net at the image's size); "
                            "default 1 for images of 8x8 or less, 3 above (28x28 is seen whole at 7x7)")
        p.add_argument("--label-dropout", type=float, default=0.1,
                       help="share of labels replaced by 'no label' (classifier-free guidance); default 0.1")
        p.add_argument("--sampler-calls", type=int, default=100, help="model calls per sample; default 100")
        p.add_argument("--fd-calls", default="2,5,10,20,50,100,200",
                       help="after training, the Fréchet distance (classifier-digits' features, digits only) of "
                            "each sampler at these model calls, comma-separated; '' to skip")
        p.add_argument("--fd-ddpm-calls", default="500,1000",
                       help="and of DDPM's ancestral sampler, which needs many, at these too; default 500,1000")
        p.add_argument("--fd-draws", type=int, default=2, help="draws of 1,000 samples per point of that curve")

    def build(self, train_data):
        a = self.args
        info = DATASETS.get(a.dataset)
        return DiffusionModel(kind=self.kind, image_size=train_data.image_size, channels=train_data.num_channels,
                              levels=info.levels if info is not None else 256, width=a.width, blocks=a.blocks,
                              classes=max(len(train_data.class_names), 1), label_dropout=a.label_dropout,
                              coupling=getattr(a, "coupling", "independent"), sampler_calls=a.sampler_calls,
                              scales=a.scales if a.scales is not None else (1 if train_data.image_size <= 8 else 3))

    def loss(self, step_model, x, y, step):
        loss = step_model(x, y)
        return loss, {"loss": loss.detach()}

    @torch.no_grad()
    def evaluate(self, test):
        """The objective on the test images, with the same noise at every epoch (a generator seeded with --seed)."""
        device = next(self.model.parameters()).device
        generator = torch.Generator(device).manual_seed(self.args.seed)
        self.model.eval()
        images, labels = test.images.to(device), test.labels.to(device)
        loss = float(self.model.training_loss(images, labels, generator))
        self.model.train()
        return {"test_loss": loss}

    def final(self, test):
        """Sample quality against sampler steps: the comparison's Fréchet distance (dgm_core.compare) of each
        sampler at each of --fd-calls, on the datasets the comparison has a judge for (digits, mnist-5k)."""
        a = self.args
        budgets = [int(v) for v in str(a.fd_calls).split(",") if v.strip()]
        from dgm_core import compare

        if not budgets or a.dataset not in compare.PROTOCOLS:
            return {}
        extra = {"DDPM ancestral": [int(v) for v in str(a.fd_ddpm_calls).split(",") if v.strip()]}
        from dgm_core.diffusion.measures import fd_against_calls

        protocol = compare.PROTOCOLS[a.dataset]
        judge, test_features, floor = compare.reference(protocol)
        device = next(self.model.parameters()).device
        self.model.eval()
        rows = fd_against_calls(self.model, budgets, lambda images: compare.frechet_distance_to_test(judge, images, test_features),
                                torch.Generator(device).manual_seed(self.args.seed), draws=a.fd_draws, extra=extra)
        return {"fd_by_calls": {"rows": rows, "floor": floor, "judge": protocol.judge}}

    def samples(self):
        device = next(self.model.parameters()).device
        return self.model.sample(64, torch.Generator(device).manual_seed(self.args.seed)).cpu()


class DDPMRecipe(DiffusionRecipe):
    name = "ddpm"
    kind = "ddpm"
    summary = "DDPM: ε-prediction on the cosine schedule, class-conditional with label dropout (Ho et al. 2020)"


class FlowMatchingRecipe(DiffusionRecipe):
    name = "flow-matching"
    kind = "flow"
    summary = "conditional flow matching on the straight path, independent or OT coupling (Lipman et al. 2023)"

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--coupling", choices=["independent", "ot"], default="independent",
                       help="pair noise and data at random or by minibatch OT (Tong et al. 2024); default independent")
