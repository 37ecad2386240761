"""The GAN objectives, each written once: the minimax GAN (Goodfellow et al., 2014), the WGAN critic
with weight clipping (Arjovsky et al., 2017), the gradient penalty of WGAN-GP (Gulrajani et al., 2017)
and feature matching (Salimans et al., 2016). Both the live 2-D trainer and the image GANs use them.

Notation: D(x) is the discriminator's logit (GAN) or the critic's value (WGAN); σ the logistic
function, so the GAN discriminator's probability is σ(D(x)); G(z) the generator, z ~ N(0, I).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KINDS = ("gan", "wgan", "wgan-gp")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))] (Goodfellow et al., eq. 1), using
    −log σ(l) = softplus(−l) and −log(1 − σ(l)) = softplus(l) for numerical stability."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_G = E[log(1 − σ(D(G(z))))], the minimax generator loss. When D rejects the fakes
    confidently (σ(D) → 0) its gradient σ(D)·∂D vanishes: the loss saturates."""
    return -F.softplus(fake_logits).mean()


def generator_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_G = −E[log σ(D(G(z)))] (Goodfellow et al., §3): the same fixed point, but the gradient
    (1 − σ(D))·∂D is largest exactly when the discriminator rejects the fakes."""
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """L_D = −E[D(x)] + E[D(G(z))] (Arjovsky et al., Algorithm 1): minimising it maximises the
    Kantorovich–Rubinstein estimate of the Wasserstein-1 distance over the critic family."""
    return -real_scores.mean() + fake_scores.mean()


def critic_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """L_G = −E[D(G(z))]."""
    return -fake_scores.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = ε x + (1 − ε) G(z), ε ~ U[0, 1] per pair (Gulrajani et al.,
    Algorithm 1): a soft 1-Lipschitz constraint, in place of clipping the weights."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=generator, device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def clip_weights(critic: nn.Module, clip: float) -> None:
    """Keep every critic weight in [−c, c] (Arjovsky et al.): a crude way to bound the Lipschitz constant."""
    with torch.no_grad():
        params = list(critic.parameters())
        torch._foreach_clamp_min_(params, -clip)
        torch._foreach_clamp_max_(params, clip)


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """‖E f(x) − E f(G(z))‖₂² (Salimans et al., 2016, §3.1), over an intermediate discriminator layer."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()

