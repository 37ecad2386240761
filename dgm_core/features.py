"""The features every Fréchet distance of the lab is measured in: the penultimate features of
`dgm_core.classifier.ImageClassifier` trained on the dataset itself (`classifier_features`), an offline
Fréchet distance comparable only with itself, not with published FIDs (which use Inception-V3's ImageNet
features, Heusel et al., 2017, and need a download). The UI always names the judge a number comes from.
"""
from __future__ import annotations

import numpy as np
import torch

CLASSIFIER = "features of the classifier trained on the dataset"


def _batches(images: torch.Tensor, batch_size: int):
    for i in range(0, len(images), batch_size):
        yield images[i:i + batch_size]


@torch.no_grad()
def classifier_features(model, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.features(b.to(device)).cpu() for b in _batches(images, batch_size)]).double().numpy()


def live_features(features: np.ndarray) -> tuple[int, int]:
    """(features that vary over `features`' rows, all features). A ReLU unit that is zero on every
    image is dead: it adds nothing to a Fréchet distance, which then lives in fewer dimensions."""
    return int((features.std(0) > 0).sum()), int(features.shape[1])
