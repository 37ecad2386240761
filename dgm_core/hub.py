"""The base class of every trainable model, and the one table that names each model type.

This module is a leaf: it imports no model family. A checkpoint's `config.json` says which class
built it (`"model_type": "vae"`); `model_class("vae")` reads `MODEL_TYPES`, imports that one
module and returns its class, as transformers' and diffusers' auto classes resolve theirs by name.
Loading a VAE therefore imports the VAE code and nothing of the GANs, and a family is known the
moment it has its line in the table, whether or not anything imported it first.

To add a family: subclass `HubModel` (and dgm_core.generative.GenerativeModel, for a model that generates
images) in its module, give it a `model_type`, and add one line here (a plug-in adds it with
`register_model_type`).
tests/test_registry.py checks that every subclass has its line and that the lines resolve.
"""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from huggingface_hub import PyTorchModelHubMixin
from torch import nn

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

#: model_type -> "module:Class", imported only when a checkpoint of that type is loaded.
MODEL_TYPES: dict[str, str] = {
    "vae": "dgm_core.vae:ConvVAE",
    "image-gan": "dgm_core.gan.image:ImageGAN",
    "classifier": "dgm_core.classifier:ImageClassifier",
    "realnvp": "dgm_core.flow.realnvp:RealNVP",
    "vae-flow-prior": "dgm_core.vae_flow_prior:FlowPriorVAE",
    "ebm": "dgm_core.ebm:EnergyNet",
    "vqvae": "dgm_core.vqvae:VQVAE",
    "diffusion": "dgm_core.diffusion.image:DiffusionModel",
}


def register_model_type(model_type: str, where: str) -> None:
    """Add a model type from outside this file (a plug-in family): `where` is "module:Class"."""
    MODEL_TYPES[model_type] = where


class UnknownModelType(KeyError):
    """A `model_type` with no line in MODEL_TYPES."""


def model_class(model_type: str) -> type:
    """The class registered for `model_type`, importing its module (and only it) on first use."""
    if model_type not in MODEL_TYPES:
        raise UnknownModelType(model_type)
    module, _, name = MODEL_TYPES[model_type].partition(":")
    return getattr(importlib.import_module(module), name)


class HubModel(nn.Module, PyTorchModelHubMixin, library_name="dgm-lab", tags=["dgm-lab"]):
    """Base class of every trainable model. Subclasses set `model_type` (with its line in
    MODEL_TYPES) and keep their constructor arguments JSON-serialisable; those arguments are the
    config. `save_pretrained`, `from_pretrained(dir_or_repo_id, strict=True)` and `push_to_hub`
    work as everywhere on the Hub, with weights in safetensors only."""

    model_type: str = ""

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._hub_mixin_config or {})

    def _save_pretrained(self, save_directory: Path) -> None:
        from safetensors.torch import save_model

        save_model(self, str(Path(save_directory) / WEIGHTS_NAME))
        config = {"model_type": self.model_type, **self.config}
        (Path(save_directory) / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision=None, cache_dir=None, force_download=False,
                         local_files_only=False, token=None, map_location: str = "cpu", strict: bool = True,
                         **model_kwargs):
        """Weights from `model.safetensors` only: unlike the mixin's default there is no fallback to
        a pickled `pytorch_model.bin`, locally or on the Hub."""
        import safetensors.torch
        from huggingface_hub import hf_hub_download

        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            weights = os.path.join(model_id, WEIGHTS_NAME)
        else:
            weights = hf_hub_download(repo_id=model_id, filename=WEIGHTS_NAME, revision=revision, cache_dir=cache_dir,
                                      force_download=force_download, token=token, local_files_only=local_files_only)
        safetensors.torch.load_model(model, weights, strict=strict, device=map_location)
        return model.eval()
