"""Why likelihood fails at out-of-distribution detection, and two fixes: the OOD sets, the input-complexity
score S(x) (Serrà et al., 2020), the batch typicality test (Nalisnick et al., 2019b), AUROC, and the
report that scores every set with each."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from dgm_core.flow.realnvp import RealNVP, image_bits_per_dim
from dgm_core.generative import to_levels


def png_bits(images: torch.Tensor, levels: int) -> np.ndarray:
    """L(x): the length in bits of each image saved as an 8-bit greyscale PNG (Pillow, best compression)."""
    import io

    from PIL import Image

    k = (to_levels(images, levels) * (255 // (levels - 1))).to(torch.uint8).cpu().numpy()
    lengths = []
    for image in k:
        buffer = io.BytesIO()
        Image.fromarray(image.reshape(image.shape[-2:]) if image.shape[0] == 1 else image.transpose(1, 2, 0)).save(
            buffer, format="PNG", optimize=True)
        lengths.append(8 * buffer.tell())
    return np.asarray(lengths, dtype=np.float64)


def zlib_bits(images: torch.Tensor, levels: int) -> np.ndarray:
    """L(x): the length in bits of each image's levels (one byte each) compressed by zlib at level 9."""
    k = to_levels(images, levels).to(torch.uint8).cpu().numpy()
    return np.asarray([8 * len(zlib.compress(image.tobytes(), 9)) for image in k], dtype=np.float64)


def complexity_score(bits_per_dim_values: np.ndarray, compressed_bits: np.ndarray, dims: int) -> np.ndarray:
    """The input-complexity score of Serrà et al. (ICLR 2020), per dimension:

        S(x) = −log₂ p(x) − L(x),

    the model's code length minus a generic compressor's. A simple image is short for both, so its
    high likelihood is discounted; larger S means more out of distribution."""
    return np.asarray(bits_per_dim_values) - np.asarray(compressed_bits) / dims


def auroc(in_scores, out_scores) -> float:
    """Area under the ROC curve with the out-of-distribution set as the positive class and a larger
    score meaning "more out of distribution": P(s_out > s_in) + ½ P(s_out = s_in), the Mann–Whitney
    statistic over average ranks (ties counted half)."""
    a, b = np.asarray(in_scores, dtype=np.float64), np.asarray(out_scores, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("AUROC needs at least one in-distribution and one out-of-distribution score")
    scores = np.concatenate([a, b])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):            # average ranks over runs of equal scores
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start:end + 1]] = 0.5 * (start + end) + 1
        start = end + 1
    rank_sum_out = ranks[len(a):].sum()
    return float((rank_sum_out - len(b) * (len(b) + 1) / 2) / (len(a) * len(b)))


def typicality_scores(values: np.ndarray, entropy_estimate: float, batch: int,
                      generator: np.random.Generator) -> np.ndarray:
    """The typicality test of Nalisnick et al. (2019, §3): for batches of M inputs, the statistic
    |mean over the batch of −log₂ p(x)/D − Ĥ|, with Ĥ the training data's mean bits/dim (an estimate
    of the entropy rate). Typical batches sit near Ĥ, whether they are more or less likely than it;
    larger means less typical. The values are shuffled and cut into as many whole batches as fit."""
    values = np.asarray(values, dtype=np.float64)
    usable = (len(values) // batch) * batch
    if usable == 0:
        raise ValueError(f"a batch of {batch} needs at least {batch} images; got {len(values)}")
    shuffled = values[generator.permutation(len(values))[:usable]].reshape(-1, batch)
    return np.abs(shuffled.mean(1) - entropy_estimate)


#: The built-in image sets every model is scored on, less its own.
BUILTIN_IMAGE_SETS = ("digits", "mnist-5k", "shapes")
NATURAL_CROPS = "natural-image crops (LFW)"


def natural_crops(size: int) -> torch.Tensor:
    """scikit-image's `lfw_subset`: 200 grey 25x25 crops of real photographs (100 faces, 100 other scenes,
    Labeled Faces in the Wild), resized to size x size, (200, 1, size, size) in [0, 1]. Natural images, offline."""
    from skimage.data import lfw_subset

    from dgm_core.data.builtin import resize

    crops = torch.from_numpy(lfw_subset()).float().unsqueeze(1).clamp(0, 1)
    return resize(crops, size)


def ood_images(model_dataset: str, size: int, levels: int, n: int, seed: int = 0,
               root=None) -> dict[str, torch.Tensor]:
    """The out-of-distribution sets for a model of `model_dataset` at size x size with `levels`
    levels, n images each, all brought to that size and quantised to those levels: the other
    built-in sets (digits, mnist-5k and shapes, less the model's own: other handwriting is the near
    OOD, and a model of one handwriting is scored on the other in both directions), natural-image
    crops (scikit-image's 200 LFW crops: faces and other scenes), inverted test images of the
    model's own set, uniform noise over the levels, constant images (one random level each), and
    MNIST / FashionMNIST where their files are on disk (under `root`, default the lab's data folder;
    nothing is downloaded for this)."""
    from dgm_core.data import DatasetError, load_dataset

    rng = torch.Generator().manual_seed(seed)
    quantise = lambda x: to_levels(x, levels) / (levels - 1)  # noqa: E731
    own = load_dataset(model_dataset, "test", image_size=size).images[:n]
    sets = {other: quantise(load_dataset(other, "test", image_size=size).images[:n])
            for other in BUILTIN_IMAGE_SETS if other != model_dataset}
    sets.update({
            NATURAL_CROPS: quantise(natural_crops(size)[:n]),
            f"inverted {model_dataset}": quantise(1 - own),
            "uniform noise": torch.randint(levels, (n, 1, size, size), generator=rng).float() / (levels - 1),
            "constant images": (torch.randint(levels, (n, 1, 1, 1), generator=rng).float() / (levels - 1)
                                ).expand(n, 1, size, size).clone()})
    for name in ("mnist", "fashion-mnist"):
        if name == model_dataset or (name == "mnist" and model_dataset == "mnist-5k"):   # the same digits
            continue
        try:
            real = load_dataset(name, "test", image_size=size, root=root, download=False)
        except (DatasetError, TypeError):
            continue
        sets[name] = quantise(torch.stack([real[i][0] for i in range(min(n, len(real)))]))
    return sets


#: The compressors of the complexity score, side by side: the paper's PNG, and zlib on the raw levels (at 8x8
#: a PNG is mostly its fixed headers, so its length says little about the pixels).
COMPRESSORS = {"PNG": png_bits, "zlib": zlib_bits}


@dataclass
class OODReport:
    """Per-image bits/dim, complexity scores (one per compressor) and typicality of the in-distribution test
    set and each OOD set, the AUROC of each score (OOD positive, larger score = more OOD), and each
    compressor's mean length in bits per image of the in-distribution set (what S(x) subtracts)."""
    bits_per_dim: dict[str, np.ndarray]
    complexity: dict[str, dict[str, np.ndarray]]       # compressor -> set -> S(x)
    typicality: dict[str, np.ndarray]
    in_name: str
    typicality_batch: int
    table: list[dict] = field(default_factory=list)
    compressed_bits: dict[str, float] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)     # how many images each set has


@torch.no_grad()
def ood_report(model: RealNVP, in_images: torch.Tensor, train_images: torch.Tensor, ood: dict[str, torch.Tensor],
               in_name: str, typicality_batch: int = 10, seed: int = 0) -> OODReport:
    """Scores every set with the model's bits/dim, the input-complexity score S(x) with each compressor
    (COMPRESSORS) and the batch typicality test, and builds one AUROC table: one row per OOD set, a column
    per score."""
    generator = torch.Generator(next(model.parameters()).device).manual_seed(seed)
    sets = {in_name: in_images, **ood}
    bpd = {name: image_bits_per_dim(model, images, generator).numpy() for name, images in sets.items()}
    lengths = {c: {name: compress(images, model.levels) for name, images in sets.items()}
               for c, compress in COMPRESSORS.items()}
    complexity = {c: {name: complexity_score(bpd[name], lengths[c][name], model.pixels) for name in sets}
                  for c in COMPRESSORS}
    entropy = float(image_bits_per_dim(model, train_images, generator).mean())
    typical = {name: typicality_scores(bpd[name], entropy, typicality_batch, np.random.default_rng(seed))
               for name in sets}
    table = []
    for name in ood:
        table.append({"OOD set": name,
                      "mean bits/dim, one draw (in → OOD)":
                          f"{bpd[in_name].mean():.2f} → {bpd[name].mean():.2f}",
                      "more likely than the median test image": float(np.mean(bpd[name] < np.median(bpd[in_name]))),
                      "AUROC bits/dim": auroc(bpd[in_name], bpd[name]),
                      **{f"AUROC complexity S(x), {c}": auroc(complexity[c][in_name], complexity[c][name])
                         for c in COMPRESSORS},
                      "AUROC typicality": auroc(typical[in_name], typical[name])})
    return OODReport(bpd, complexity, typical, in_name, typicality_batch, table,
                     {c: float(np.mean(lengths[c][in_name])) for c in COMPRESSORS},
                     {name: len(images) for name, images in sets.items()})


