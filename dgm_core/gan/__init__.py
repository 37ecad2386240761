"""Generative adversarial networks: GAN (Goodfellow et al., 2014), WGAN with weight clipping
(Arjovsky et al., 2017), WGAN-GP (Gulrajani et al., 2017) and the conditional GAN with feature
matching (Mirza & Osindero, 2014; Salimans et al., 2016).

One module per layer, read in this order:
  objectives.py   the losses and the gradient penalty, written once each
  toy.py          the live 2-D trainer (ToyGAN) and mode coverage
  image.py        the image GANs (ImageGAN, a HubModel), one training step, snapshots
  theory.py       the 1-D theory in closed form (D*, JS, W₁, vanishing gradients)
What the GAN lab shows (its ranges, sentences, tables and lesson checks) is in dgm_core/labs/gans.py.
"""
from dgm_core.gan.image import (
    DROPPED_SHARE,
    DCGANDiscriminator,
    DCGANGenerator,
    DiscriminatorLoss,
    GeneratorLoss,
    ImageGAN,
    ImageGANLosses,
    PairedOptimizer,
    class_grid,
    image_gan_optimizer,
    image_gan_step,
    load_snapshot,
    snapshot_model,
)
from dgm_core.gan.objectives import (
    KINDS,
    clip_weights,
    critic_generator_loss,
    critic_loss,
    discriminator_loss,
    feature_matching_loss,
    generator_loss_non_saturating,
    generator_loss_saturating,
    gradient_penalty,
)
from dgm_core.gan.theory import GaussianGame, separation_curves
from dgm_core.gan.toy import (
    LOOSE_RADIUS,
    FlatAdam,
    FlatRMSprop,
    ToyGAN,
    ToyGANConfig,
    ToyMLP,
    default_config,
    mlp_backward,
    mlp_forward,
    mode_coverage,
    penalty_backward,
    relu_backward,
    side_by_side,
)
