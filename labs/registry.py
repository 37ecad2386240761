"""The labs that exist, in teaching order. app.py routes to them and the home page links them;
to add a lab, add its page file and one line here."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Lab:
    path: str
    title: str
    icon: str
    summary: str


HOME = Lab("labs/home.py", "DGM Lab", "🧪", "")

LABS = [
    Lab("labs/bayesian_networks.py", "Bayesian networks", "🕸️",
        "Edit a network and its CPTs, ask whether X ⟂ Y | Z and see the active trail, check the answer "
        "numerically, compare exact, sampling and mean-field inference, and view the Markov network."),
    Lab("labs/vae.py", "VAE", "🌀",
        "Move latent sliders, traverse and interpolate, compare β = 1 and β = 4 side by side (samples, KL per "
        "dimension, MIG, training curves) and estimate the likelihood with importance sampling."),
    Lab("labs/gans.py", "GANs", "⚔️",
        "Train GAN, WGAN and WGAN-GP side by side live on 2-D data, see why JS saturates and Wasserstein does "
        "not, and follow FID and mode collapse across training of image GANs and a conditional GAN."),
    Lab("labs/flows.py", "Normalizing flows", "🌊",
        "Train a 2-D RealNVP live and watch each coupling warp the grid, sample digits at a temperature, see "
        "likelihood fail at out-of-distribution detection and two fixes, play with the Hutchinson estimator, "
        "and compare a VAE's Gaussian prior with a RealNVP prior."),
    Lab("labs/energy.py", "Energy-based models", "🔋",
        "Train an energy live with SGLD chains moving on it (buffer or noise, every sampler setting), see chains "
        "from noise against a replay buffer, sample a chosen digit, and compare JEM with JEM++."),
    Lab("labs/vqvae.py", "VQ-VAE and its codes", "🧩",
        "See digits as grids of discrete codes, watch codebook usage with and without dead-code restarts, "
        "cluster the codes with k-means and judge the clusters against the labels, explore t-SNE and UMAP "
        "maps, and compare a classifier on true labels with one on cluster pseudo-labels."),
    Lab("labs/compare.py", "Every model compared", "⚖️",
        "Every shipped digits model side by side, measured the same way: sample grids, latent interpolations, "
        "Fréchet distance with its floor, bits/dim where a model has a density, weights, time to train and to "
        "sample, and pros and cons derived from those numbers."),
]
