"""The VQ-VAE recipe (van den Oord et al., 2017): reconstruction + codebook + β commitment, or the EMA
codebook, with dead-code restarts from the batch's encoder outputs.

The codebook's usage counters are buffers of the quantiser, so they are saved with the weights at each
epoch and `--resume` continues them exactly; restarts draw from the global RNG, which the loop seeds per
rank and saves and restores with the resume state."""
from __future__ import annotations

import argparse

import torch

from dgm_core import vqvae
from training.recipes.base import Recipe


class VQVAERecipe(Recipe):
    name = "vqvae"
    summary = "VQ-VAE: a discrete latent by vector quantisation, with codebook health and dead-code restarts"
    datasets = ("digits", "shapes", "mnist-5k", "mnist", "fashion-mnist", "folder:PATH")
    defaults = {"dataset": "digits", "epochs": 30, "batch_size": 64, "lr": 1e-3}
    # digits at its own 8x8: a 4x4 grid of codes (28x28 upscaled digits would hold no more information)
    native_resolution = True

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        p.add_argument("--codes", type=int, default=64, help="codebook size K")
        p.add_argument("--code-dim", type=int, default=16, help="dimension D of each code")
        p.add_argument("--width", type=int, default=32, help="channels of the encoder and decoder")
        p.add_argument("--beta", type=float, default=0.25, help="weight β of the commitment term")
        p.add_argument("--codebook", choices=["loss", "ema"], default="loss",
                       help="learn the codes by the codebook loss term, or by moving averages (decay 0.99)")
        p.add_argument("--restart-every", type=int, default=50,
                       help="every this many steps, restart codes used fewer than --dead-threshold times since "
                            "the last check (0: never)")
        p.add_argument("--dead-threshold", type=float, default=1.0,
                       help="uses per check below which a code counts as dead")

    def build(self, train_data):
        a = self.args
        if a.codes < 2 or a.code_dim < 1:
            raise ValueError(f"--codes must be at least 2 and --code-dim at least 1; got {a.codes} and {a.code_dim}")
        downsamples = 1 if train_data.image_size <= 16 else 2
        return vqvae.VQVAE(image_size=train_data.image_size, channels=train_data.num_channels, width=a.width,
                           num_codes=a.codes, code_dim=a.code_dim, downsamples=downsamples, beta=a.beta,
                           ema=a.codebook == "ema")

    def setup(self, train_data, steps_per_epoch, device):
        model = super().setup(train_data, steps_per_epoch, device)
        self.device = device
        self.restarted = 0
        return model

    def loss(self, step_model, x, y, step):
        a = self.args
        restarted = 0
        if a.restart_every and step and step % a.restart_every == 0:
            with torch.no_grad():
                restarted = self.model.quantizer.restart_dead_codes(self.model.encode(x), a.dead_threshold)
            self.restarted += restarted
        loss, metrics = self.model.loss(x)
        return loss, {**metrics, "restarted": float(restarted)}

    def evaluate(self, test):
        self.model.eval()
        report = vqvae.reconstruction_report(self.model, test.images.to(self.device))
        self.model.train()
        self._shown = test.images[:32]          # the sample grid's originals (evaluate runs first)
        return {"test_mse": report["mse"], "test_perplexity": report["perplexity"],
                "test_dead_codes": report["dead_codes"], "restarted_so_far": self.restarted}

    def samples(self):
        """The first 32 test images and their reconstructions, in alternate rows of 8."""
        shown = self._shown
        self.model.eval()
        with torch.no_grad():
            recon, _ = self.model(shown.to(self.device))
        self.model.train()
        rows = [t for i in range(0, len(shown), 8) for t in (shown[i:i + 8].cpu(), recon[i:i + 8].cpu())]
        return torch.cat(rows)

    def state_dict(self):
        return {"restarted": torch.tensor(self.restarted)}

    def load_state_dict(self, state):
        if "restarted" in state:
            self.restarted = int(state["restarted"])
