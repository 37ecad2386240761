"""A small convolutional classifier trained on the dataset itself.

The GAN lab uses it twice: its penultimate features give an offline Fréchet distance (where the
Inception-V3 weights cannot be downloaded), and its predictions give the class histogram of
generated samples, which shows mode collapse (a generator that draws only some digits).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dgm_core.hub import HubModel


class ImageClassifier(HubModel):
    """Conv 3x3 → ReLU → max-pool, twice; dense to `feature_dim` (the features); dense to the logits."""

    model_type = "classifier"

    def __init__(self, image_size: int = 28, channels: int = 1, num_classes: int = 10, width: int = 32,
                 feature_dim: int = 128):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4; got {image_size}")
        self.image_size, self.channels, self.num_classes = image_size, channels, num_classes
        side = image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * side * side, feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations (B, feature_dim): what the offline Fréchet distance compares."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def training_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy of a batch and its accuracy; `model` may be wrapped (DDP, torch.compile), and the
    caller owns autocast, backward and the optimiser step (training/loop.py)."""
    logits = model(x)
    loss = F.cross_entropy(logits.float(), y)
    return loss, {"loss": loss.detach(), "accuracy": (logits.argmax(1) == y).float().mean()}


@torch.no_grad()
def evaluate(model: ImageClassifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> dict:
    model.eval()
    device = next(model.parameters()).device
    logits = torch.cat([model(images[i:i + batch_size].to(device)) for i in range(0, len(images), batch_size)])
    model.train()
    labels = labels.to(device)
    return {"loss": F.cross_entropy(logits, labels).item(), "accuracy": (logits.argmax(1) == labels).float().mean().item()}


@torch.no_grad()
def predict(model: ImageClassifier, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    device = next(model.parameters()).device
    return torch.cat([model(images[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)])


def class_histogram(model: ImageClassifier, images: torch.Tensor) -> torch.Tensor:
    """How many images the classifier assigns to each class (num_classes,)."""
    return torch.bincount(predict(model, images), minlength=model.num_classes)
