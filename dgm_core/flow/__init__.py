"""Normalizing flows: RealNVP (Dinh, Sohl-Dickstein & Bengio, ICLR 2017), its likelihood on discrete
images, why that likelihood fails at out-of-distribution detection and two fixes, and the Hutchinson
trace estimator of residual flows (Behrmann et al., 2019; Chen et al., 2019).

One module per layer, read in this order:
  realnvp.py    the change of variables, couplings, squeeze, dequantization, the image RealNVP and
                its bits/dim, the 2-D RealNVP
  toy.py        the 2-D RealNVP trained live
  baseline.py   a GaussianMixture likelihood counted as the flow's
  ood.py        out-of-distribution scores (likelihood, input complexity, typicality) and AUROC
  residual.py   the residual block and the estimators of its log-determinant
What the flow lab shows (its ranges, findings, tables and lesson checks) is in dgm_core/labs/flows.py.
"""
from dgm_core.flow.baseline import gmm_baseline, gmm_baseline_sentence
from dgm_core.flow.ood import (
    COMPRESSORS,
    OODReport,
    auroc,
    complexity_score,
    ood_images,
    ood_report,
    png_bits,
    typicality_scores,
    zlib_bits,
)
from dgm_core.flow.realnvp import (
    LN2,
    LOG_2PI,
    AffineCoupling,
    ConvNet,
    RealNVP,
    VariationalDequantizer,
    VectorRealNVP,
    bits_per_dim,
    channel_mask,
    checkerboard_mask,
    image_bits_per_dim,
    inverse_logit_transform,
    logit_transform,
    mlp,
    squeeze,
    standard_normal_log_prob,
    to_levels,
    training_loss,
    unsqueeze,
    vector_mask,
)
from dgm_core.flow.residual import (
    HutchinsonStudy,
    ResidualBlock,
    exact_logdet,
    hutchinson_study,
    power_series_logdet,
    probes,
    russian_roulette_logdet,
    truncated_series,
)
from dgm_core.flow.toy import DENSITY_WINDOW, RANGES, ToyFlow, ToyFlowConfig, live_session
