"""The interface every recipe implements; training/loop.py drives it.

A recipe connects one model family's mathematics (in dgm_core) to the generic loop: its flags and
defaults, how to build the model, one training step, what to measure, and whatever it keeps
between steps. Two shapes of step, as in nanoGPT's train.py:

- `loss`: the recipe returns a loss; the loop owns autocast, backward and the optimiser step, so
  every flag (--amp, --compile, torchrun) applies to it.
- `step` (with `owns_step = True`): the recipe runs its own update (a GAN's alternating
  discriminator and generator updates). It declares in `supports` the flags it honours;
  `training.run` refuses the others.

What a recipe keeps between steps (a GAN's count of generator updates; an energy model's replay
buffer; a VQ-VAE's codebook statistics) it returns from `state_dict` and takes back in
`load_state_dict`: the loop saves it with the optimiser in `training_state.safetensors` (tensors,
numbers, strings, lists and dicts; no pickle) and gives it back on `--resume`.
"""
from __future__ import annotations

import argparse
from typing import Any, ClassVar

import torch

#: The run flags a recipe can honour: --amp bf16, --compile, and torchrun (DistributedDataParallel).
FLAGS = frozenset({"amp", "compile", "ddp"})


class Recipe:
    name: ClassVar[str]
    summary: ClassVar[str]
    datasets: ClassVar[tuple[str, ...]]
    defaults: ClassVar[dict]                 # dataset, epochs, batch_size, lr
    supports: ClassVar[frozenset] = FLAGS    # which of FLAGS the recipe honours
    unsupported_because: ClassVar[str] = ""  # why the others are not, for the refusal message
    owns_step: ClassVar[bool] = False        # True: `step` runs the update; False: the loop runs `loss`
    #: What the divergence stop tells the user to try, after "Stopped; the last good checkpoint is kept".
    divergence_advice: ClassVar[str] = "Lower --lr or check the data."
    #: Flags that make a short run skip its end-of-training extras (the comparison's timing reruns use them).
    short_run_flags: ClassVar[tuple[str, ...]] = ()

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.model: torch.nn.Module | None = None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The recipe's own flags."""

    #: True: train at the data's own resolution when --image-size is not given (digits at 8x8, not the
    #: 28x28 interpolation of its 64 numbers); False: at the size the dataset is served.
    native_resolution: ClassVar[bool] = False

    @classmethod
    def default_image_size(cls, dataset: str) -> int | None:
        """The side to train at when --image-size is not given; None: the dataset's served size."""
        if not cls.native_resolution:
            return None
        from dgm_core.data.registry import DATASETS

        info = DATASETS.get(dataset)
        return (info.native_size or info.image_size) if info is not None else None

    # --------------------------------------------------------------------- building
    def setup(self, train_data, steps_per_epoch: int, device: torch.device) -> torch.nn.Module:
        """Build the model on `device` (the loop has seeded the global RNG for the initial weights),
        keep it as `self.model` and return it."""
        self.model = self.build(train_data).to(device)
        self.total_steps = self.args.epochs * steps_per_epoch
        return self.model

    def build(self, train_data) -> torch.nn.Module:
        raise NotImplementedError(f"{type(self).__name__} must define build(train_data): every recipe builds its model")

    def optimizer(self):
        return torch.optim.Adam(self.model.parameters(), lr=self.args.lr)

    def wrap(self, wrap):
        """The module(s) the step calls; `wrap` applies DDP and torch.compile to one module."""
        return wrap(self.model)

    # ------------------------------------------------------------------------ a step
    def loss(self, step_model, x: torch.Tensor, y: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        """The loss of one batch and the metrics to log (the loop runs backward and the optimiser)."""
        raise NotImplementedError(f"{type(self).__name__} must define loss(), or step() with owns_step = True")

    def step(self, step_model, x: torch.Tensor, y: torch.Tensor, optimizer, step: int, autocast) -> dict[str, float]:
        """One whole update of a recipe with `owns_step`; returns the metrics to log."""
        raise NotImplementedError(f"{type(self).__name__} sets owns_step but does not define step()")

    # ------------------------------------------------------------------ measuring
    def evaluate(self, test) -> dict[str, Any]:
        """Metrics after each epoch, on the test set (a training.loop.TestSet)."""
        return {}

    #: The `validate` metric to minimise when the dataset has a validation split (mnist-5k): the loop keeps
    #: the weights of the epoch where it was lowest, and the finished checkpoint holds those. None: no selection.
    selects_on: ClassVar[str | None] = None

    def validate(self, valid, train) -> dict[str, Any]:
        """Metrics after each epoch on the validation split and on a fixed part of the training split
        (TestSets of the same size), for the training and validation curves and for `selects_on`."""
        return {}

    def samples(self) -> torch.Tensor | None:
        """Images (N, C, H, W) in [0, 1] for the epoch's sample grid, or None."""
        return None

    def snapshot(self) -> bytes | None:
        """Bytes for snapshots/epoch-NNN.safetensors (a GAN's generator), or None."""
        return None

    def final(self, test) -> dict[str, Any]:
        """Extra history entries after the last epoch."""
        return {}

    # ---------------------------------------------------------- state for --resume
    def state_dict(self) -> dict[str, Any]:
        """What the recipe keeps between steps, saved with the optimiser state after each epoch."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what `state_dict` returned (called on --resume, after `setup`)."""
