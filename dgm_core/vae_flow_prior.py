"""A VAE whose prior is a RealNVP density over z, trained jointly with the encoder and decoder
(the learned-prior VAEs of Tomczak & Welling, 2018; a flow prior as in Chen et al., 2017, "Variational
Lossy Autoencoder", §3).

The objective. With encoder q(z|x), decoder p(x|z) and prior p_λ(z) = N(f_λ(z); 0, I) |det ∂f_λ/∂z|
(f_λ a RealNVP, dgm_core.flow.VectorRealNVP), the evidence lower bound is

    log p(x) ≥ E_q[log p(x|z)] − KL(q(z|x) ‖ p_λ(z))
             = E_q[log p(x|z)] + E_q[log p_λ(z)] + H[q(z|x)],

and maximising it over λ as well moves the prior towards the aggregate posterior
q(z) = E_x q(z|x): the ELBO averaged over the data is E_x E_q[log p(x|z)] + E_x H[q(z|x)] −
(KL(q(z) ‖ p_λ) + I_q(x; z)), whose only λ-dependent part is −KL(q(z) ‖ p_λ) (Hoffman & Johnson,
2016, "ELBO surgery"). A Gaussian prior pays that KL in full when q(z) is not Gaussian; a flow can
shrink it. The KL to a flow has no closed form, so it is estimated with the same reparameterised
sample z = μ + σ ⊙ ε that the reconstruction uses:

    KL ≈ log q(z|x) − log p_λ(z),   log q(z|x) = Σ −½ ε² − ½ log σ² − ½ log 2π.

Everything else (the IWAE bound, sampling, the lab's latent tools) is the VAE's own: this class only
replaces `prior_log_prob`, `prior_sample` and the KL in `forward`.
"""
from __future__ import annotations

import torch

from dgm_core.flow import VectorRealNVP
from dgm_core.vae import LOG_2PI, ConvVAE, reparameterize


class FlowPriorVAE(ConvVAE):
    """dgm_core.vae.ConvVAE with p(z) a RealNVP of `prior_couplings` couplings (MLPs of width
    `prior_hidden`). Its coupling layers start as the identity, so training starts from N(0, I)."""

    model_type = "vae-flow-prior"

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 10, width: int = 32,
                 likelihood: str = "bernoulli", hidden: int = 0, prior_couplings: int = 4, prior_hidden: int = 64,
                 levels: int = 17, binarisation: str = "threshold"):
        super().__init__(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width,
                         likelihood=likelihood, hidden=hidden, levels=levels, binarisation=binarisation)
        self.prior = VectorRealNVP(latent_dim, prior_couplings, prior_hidden)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        shape = z.shape[:-1]
        return self.prior.log_prob(z.reshape(-1, self.latent_dim)).view(shape)

    @torch.no_grad()
    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.prior.sample(n, generator)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log p(x|z), the one-sample KL estimate (B, 1), z) for z = μ + σ ⊙ ε."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator)
        eps = (z - mu) * torch.exp(-0.5 * logvar)
        log_q = (-0.5 * eps.pow(2) - 0.5 * logvar - 0.5 * LOG_2PI).sum(1)
        kl = (log_q - self.prior_log_prob(z)).unsqueeze(1)
        return self.log_likelihood(x, self.decode(z)), kl, z


@torch.no_grad()
def prior_projection(model: ConvVAE, images: torch.Tensor, n_prior: int = 1000,
                     generator: torch.Generator | None = None) -> dict:
    """Samples of the aggregate posterior q(z) = E_x q(z|x) (one z per image) and n_prior samples of
    the model's prior, projected on the first two principal components of the posterior samples
    (scikit-learn's PCA), with the share of q's variance each component explains. Works for either
    prior: a Gaussian-prior VAE shows how far q(z) is from N(0, I); a flow prior should cover it."""
    from sklearn.decomposition import PCA

    from dgm_core.vae import prepare_batch

    mu, logvar = model.encode(prepare_batch(model, images))
    posterior = reparameterize(mu, logvar, generator).numpy()
    prior = model.prior_sample(n_prior, generator).numpy()
    pca = PCA(2).fit(posterior)
    return {"posterior": pca.transform(posterior), "prior": pca.transform(prior),
            "explained": pca.explained_variance_ratio_.tolist()}
