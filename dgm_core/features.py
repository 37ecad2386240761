"""Feature extractors for the Fréchet distance; the UI always names which one a number comes from.

* `inception_features`: torchvision's Inception-V3 with ImageNet weights, 2048-d pool features
  (what "FID" means in papers; Heusel et al., 2017). Grey images are repeated to three channels
  and resized to 299x299. The weights come from torchvision's download; where they cannot be
  downloaded, `FeatureExtractorUnavailable` says what to do.
* `classifier_features`: the penultimate features of `dgm_core.classifier.ImageClassifier`
  trained on the dataset itself: an offline Fréchet distance, comparable only with itself.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

INCEPTION = "Inception-V3 (ImageNet) pool features, 2048-d"
CLASSIFIER = "features of the classifier trained on the dataset"


class FeatureExtractorUnavailable(RuntimeError):
    """The extractor's weights are not on this machine and cannot be downloaded."""


def _batches(images: torch.Tensor, batch_size: int):
    for i in range(0, len(images), batch_size):
        yield images[i:i + batch_size]


@torch.no_grad()
def classifier_features(model, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.features(b.to(device)).cpu() for b in _batches(images, batch_size)]).double().numpy()


def inception_model(weights: str | None = "IMAGENET1K_V1", device: str = "cpu"):
    """Inception-V3 with its classification layer removed (outputs the 2048-d pool features).
    `weights=None` gives random weights: only for testing the plumbing offline."""
    from torchvision.models import Inception_V3_Weights, inception_v3

    try:
        model = inception_v3(weights=Inception_V3_Weights[weights] if weights else None, aux_logits=True,
                             init_weights=weights is None)
    except Exception as exc:  # noqa: BLE001 - URLError, HTTPError, SSL, a truncated file: one clear message
        from torch import hub

        raise FeatureExtractorUnavailable(
            f"The Inception-V3 ImageNet weights could not be loaded ({type(exc).__name__}: {exc}). They are "
            f"downloaded once by torchvision into {hub.get_dir()}/checkpoints (file "
            "inception_v3_google-0cc3c7bd.pth); copy it there from a machine with internet, or use the "
            "classifier features for an offline Fréchet distance.") from None
    model.fc = torch.nn.Identity()
    return model.eval().to(device)


@torch.no_grad()
def inception_features(images: torch.Tensor, model=None, batch_size: int = 50) -> np.ndarray:
    """2048-d features of images (N, C, H, W) in [0, 1]: grey → 3 channels, bilinear resize to
    299x299, ImageNet normalisation (as torchvision's weights expect)."""
    model = model or inception_model()
    device = next(model.parameters()).device
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    out = []
    for b in _batches(images, batch_size):
        b = b.to(device).float()
        if b.shape[1] == 1:
            b = b.expand(-1, 3, -1, -1)
        b = F.interpolate(b, size=(299, 299), mode="bilinear", align_corners=False)
        out.append(model((b - mean) / std).cpu())
    return torch.cat(out).double().numpy()


def live_features(features: np.ndarray) -> tuple[int, int]:
    """(features that vary over `features`' rows, all features). A ReLU unit that is zero on every
    image is dead: it adds nothing to a Fréchet distance, which then lives in fewer dimensions."""
    return int((features.std(0) > 0).sum()), int(features.shape[1])
