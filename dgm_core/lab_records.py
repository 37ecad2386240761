"""The labs, one record each, in teaching order: the one list the app's router, the home page, the
Space, the lessons, the comparison and the tests read.

A record names the lab and its page and Space tab (as paths and import strings, so that this library
never imports Streamlit or Gradio), the lesson file it ships, the model types it shows, and the module
of `dgm_core.labs` that holds what the lab shows (`dgm_core.labs.<lab>`: its reports, tables, sentences,
widget ranges and the lesson checks it registers in a dict `CHECKS`). A new lab is one `Lab(...)` in
LABS, or `register(Lab(...))` from a plug-in. This module imports nothing of the library, so that the
lessons and the comparison below the labs can read it (a lab's module is imported only when asked for).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Lab:
    name: str                   # a lesson's 'lab:' line names the lab by this
    title: str
    icon: str
    summary: str
    page: str                   # the Streamlit page, from the repository root ("labs/vae.py")
    space_tab: str              # "module:function" that builds the Space tab
    shows: str                  # the module of what the lab shows, with its lesson CHECKS
    model_types: tuple[str, ...] = ()   # the model types (dgm_core.hub.MODEL_TYPES) whose checkpoints it shows
    lesson: str | None = None   # the lesson file it ships, in the lessons folder

    @property
    def url_path(self) -> str:
        """The page's address in the app: Streamlit names a page after its file."""
        return self.page.rsplit("/", 1)[-1].removesuffix(".py")

    def module(self):
        """The module of what the lab shows, imported on first use."""
        return importlib.import_module(self.shows)

    def checks(self) -> dict:
        """The lesson checks this lab registers (name -> dgm_core.lessons.Check)."""
        return dict(getattr(self.module(), "CHECKS", {}))


LABS: list[Lab] = [
    Lab("bayesian-networks", "Bayesian networks", "🕸️",
        "Edit a network and its CPTs, ask whether X ⟂ Y | Z and see the active trail, check the answer "
        "numerically, compare exact, sampling and mean-field inference, and view the Markov network.",
        "labs/bayesian_networks.py", "space.bayesian_networks:bayesian_network_tab", "dgm_core.labs.bayesian_networks",
        lesson="bayesian-networks.txt"),
    Lab("vae", "VAE", "🌀",
        "Move latent sliders, traverse and interpolate, compare β = 1 and β = 4 side by side (samples, KL per "
        "dimension, MIG, training curves) and estimate the likelihood with importance sampling.",
        "labs/vae.py", "space.vae:vae_tab", "dgm_core.labs.vae", ("vae",), lesson="vae.txt"),
    Lab("gans", "GANs", "⚔️",
        "Train GAN, WGAN and WGAN-GP side by side live on 2-D data, see why JS saturates and Wasserstein does "
        "not, and follow FID and mode collapse across training of image GANs and a conditional GAN.",
        "labs/gans.py", "space.gans:gans_tab", "dgm_core.labs.gans", ("image-gan",), lesson="gans.txt"),
    Lab("flows", "Normalizing flows", "🌊",
        "Train a 2-D RealNVP live and watch each coupling warp the grid, sample digits at a temperature, see "
        "likelihood fail at out-of-distribution detection and two fixes, play with the Hutchinson estimator, "
        "and compare a VAE's Gaussian prior with a RealNVP prior.",
        "labs/flows.py", "space.flows:flows_tab", "dgm_core.labs.flows", ("realnvp", "vae-flow-prior"),
        lesson="flows.txt"),
    Lab("energy", "Energy-based models", "🔋",
        "Train an energy live with SGLD chains moving on it (buffer or noise, every sampler setting), see chains "
        "from noise against a replay buffer, sample a chosen digit, and compare JEM with JEM++.",
        "labs/energy.py", "space.energy:energy_tab", "dgm_core.labs.energy", ("ebm",), lesson="energy.txt"),
    Lab("vqvae", "VQ-VAE and its codes", "🧩",
        "See digits as grids of discrete codes, watch codebook usage with and without dead-code restarts, "
        "cluster the codes with k-means and judge the clusters against the labels, explore t-SNE and UMAP "
        "maps, and compare a classifier on true labels with one on cluster pseudo-labels.",
        "labs/vqvae.py", "space.vqvae:vqvae_tab", "dgm_core.labs.vqvae", ("vqvae",), lesson="vqvae.txt"),
    Lab("diffusion", "Diffusion and flow matching", "🌫️",
        "Watch the forward process noise the data, train DDPM, score matching and flow matching (random or OT "
        "coupling) side by side live with their learned fields and sample paths, measure every sampler's quality "
        "against its model calls, and sample digits with classifier-free guidance.",
        "labs/diffusion.py", "space.diffusion:diffusion_tab", "dgm_core.labs.diffusion", ("diffusion",),
        lesson="diffusion.txt"),
    Lab("compare", "Every model compared", "⚖️",
        "Every shipped digits model side by side, measured the same way: sample grids, latent interpolations, "
        "Fréchet distance with its floor, bits/dim where a model has a density, weights, time to train and to "
        "sample, and pros and cons derived from those numbers.",
        "labs/compare.py", "space.compare:compare_tab", "dgm_core.labs.compare"),
]


def lab(name: str) -> Lab:
    """The record of the lab called `name`; KeyError names the labs there are."""
    for record in LABS:
        if record.name == name:
            return record
    raise KeyError(f"no lab '{name}'; the labs are {', '.join(r.name for r in LABS)}")


def register(record: Lab) -> None:
    """Add a lab (a plug-in family's), or replace the one of the same name."""
    LABS[:] = [r for r in LABS if r.name != record.name] + [record]


def lab_of_model_type(model_type: str) -> Lab | None:
    """The lab that shows checkpoints of `model_type` (the first, in teaching order), or None."""
    return next((r for r in LABS if model_type in r.model_types), None)
