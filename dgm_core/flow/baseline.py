"""A likelihood baseline for the image flows, tuned as fairly as the flow it is held against: scikit-learn's
GaussianMixture fitted in the flow's own space, with its number of components chosen on held-out data.

The flow does not model the levels k directly: it dequantizes them, y = (k + u)/L with u ~ U[0, 1)^D, and
models w = logit(α + (1 − 2α) y). The baseline does the same. A mixture p_W over w gives a density over y by
the change of variables, and a bound on the probability of the discrete image:

    log p_Y(y) = log p_W(w) + Σ_i log |dw_i/dy_i|,   dw/dy = (1 − 2α) / (s (1 − s)),  s = α + (1 − 2α) y,
    log P(k) ≥ E_u[ log p_Y((k + u)/L) ] − D log L,

counted exactly as RealNVP's bits/dim are (dgm_core.flow.realnvp), with one draw of u per image.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from dgm_core.flow.realnvp import LN2, logit_transform
from dgm_core.generative import to_levels

#: The mixtures tried, (covariance, components); the one with the best held-out likelihood is kept. Full
#: covariances of 64 pixels overfit past a few components, diagonal ones need many.
CANDIDATES = (("full", 1), ("full", 2), ("full", 5), ("full", 10),
              ("diag", 5), ("diag", 10), ("diag", 20), ("diag", 50), ("diag", 100))
#: The share of the training images held out to choose it.
VALIDATION = 0.2


def _logit_space(images: torch.Tensor, levels: int, alpha: float, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """w = logit(α + (1 − 2α) y) of one dequantization draw per image, and log |dw/dy| summed per image."""
    k = to_levels(images, levels).flatten(1)
    y = (k + torch.from_numpy(rng.random(k.shape)).to(k.dtype)) / levels
    w, log_det = logit_transform(y, alpha)
    return w.double().numpy(), log_det.double().numpy()


def gmm_baseline(train_images: torch.Tensor, test_images: torch.Tensor, levels: int, alpha: float = 0.05,
                 candidates=CANDIDATES, seed: int = 0) -> dict:
    """Test bits/dim of the GaussianMixture chosen on held-out training images (see the module's docstring):
    {"bits_per_dim", "covariance" and "components" (the one kept), "validation" (held-out bits/dim of each
    candidate, "covariance, components"), "train_images", "validation_images"}."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_images))
    held = int(round(VALIDATION * len(train_images)))
    fit, check = train_images[order[held:]], train_images[order[:held]]
    dims = train_images[0].numel()
    w_fit, _ = _logit_space(fit, levels, alpha, rng)
    w_check, log_det_check = _logit_space(check, levels, alpha, rng)
    w_test, log_det_test = _logit_space(test_images, levels, alpha, rng)

    def bits(model, w, log_det) -> float:
        log_p = model.score_samples(w) + log_det - dims * math.log(levels)
        return float(-log_p.mean() / (dims * LN2))

    scores, models = {}, {}
    for covariance, count in candidates:
        if count > len(fit):
            continue
        models[covariance, count] = GaussianMixture(count, covariance_type=covariance, reg_covar=1e-3,
                                                    random_state=seed).fit(w_fit)
        scores[covariance, count] = bits(models[covariance, count], w_check, log_det_check)
    best = min(scores, key=scores.get)
    return {"bits_per_dim": bits(models[best], w_test, log_det_test), "covariance": best[0], "components": best[1],
            "validation": {f"{c}, {k}": v for (c, k), v in scores.items()}, "train_images": len(fit),
            "validation_images": held}


def gmm_baseline_sentence(result: dict) -> str:
    tried = ", ".join(f"{k}: {v:.3f}" for k, v in result["validation"].items())
    return (f"scikit-learn's GaussianMixture fitted in the flow's own logit space to {result['train_images']} "
            f"training images, its covariance and number of components ({result['covariance']}, "
            f"{result['components']}) chosen on {result['validation_images']} held-out ones (held-out bits/dim of "
            f"each: {tried}), scored on the test digits exactly as the flow is")
