"""dgm_core.data: built-in datasets against independent oracles, and the torchvision formats
loaded from tiny files written here in the real on-disk layouts."""
import gzip  # noqa: F401  (documents that the raw, un-gzipped idx files are what torchvision reads)
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from dgm_core.data import (
    DATASETS,
    SHAPE_FACTORS,
    TOY_DISTRIBUTIONS,
    DatasetError,
    DatasetNotFound,
    load_dataset,
    render_shapes,
    sample_toy,
    toy_modes,
)


# ------------------------------------------------------------------------------- digits
def test_digits_split_is_fixed_disjoint_and_complete():
    from sklearn.datasets import load_digits

    raw = load_digits().images / 16.0
    train, test = load_dataset("digits", "train", 8), load_dataset("digits", "test", 8)
    assert (len(train), len(test)) == (1438, 359)
    # At the native size the images are sklearn's, scaled to [0, 1]: find each one's index.
    lookup = {raw[i].tobytes(): i for i in range(len(raw))}
    train_ids = [lookup[x.squeeze(0).double().numpy().tobytes()] for x in train.images]
    test_ids = [lookup[x.squeeze(0).double().numpy().tobytes()] for x in test.images]
    assert set(train_ids).isdisjoint(test_ids) and len(set(train_ids) | set(test_ids)) == 1797
    assert torch.equal(train.labels, torch.tensor(load_digits().target[train_ids]))
    again = load_dataset("digits", "train", 8)
    assert torch.equal(again.images, train.images)


@pytest.mark.parametrize("size", [16, 28, 64])
def test_digits_any_size_in_unit_range(size):
    data = load_dataset("digits", "test", size)
    x, y = data[0]
    assert x.shape == (1, size, size) and 0 <= x.min() and x.max() <= 1 and 0 <= int(y) <= 9
    # Resizing keeps the picture: downsampling back to 8x8 is close to the original.
    small = load_dataset("digits", "test", 8).images
    back = torch.nn.functional.interpolate(data.images, size=8, mode="area")
    assert np.corrcoef(back.flatten().numpy(), small.flatten().numpy())[0, 1] > 0.95


def test_digits_in_colour_repeats_the_grey_channel():
    data = load_dataset("digits", "test", 16, channels=3)
    assert data.images.shape[1] == 3 and torch.equal(data.images[:, 0], data.images[:, 2])


# ------------------------------------------------------------------------------- shapes
def test_shapes_are_deterministic_with_factors_on_the_grids():
    a = load_dataset("shapes", "train", 32, n=300, seed=3)
    b = load_dataset("shapes", "train", 32, n=300, seed=3)
    c = load_dataset("shapes", "train", 32, n=300, seed=4)
    test = load_dataset("shapes", "test", 32, n=300, seed=3)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert not torch.equal(a.images, test.images)
    assert a.factor_names == list(SHAPE_FACTORS)
    for f, grid in enumerate(SHAPE_FACTORS.values()):
        assert np.isin(a.factors[:, f].numpy(), grid.astype(np.float32)).all()
    assert torch.equal(a.labels, a.factor_index[:, 0])
    assert set(torch.unique(a.images).tolist()) <= {0.0, 1.0}


def _one(shape, scale, rotation, x, y, size=256):
    return render_shapes(np.array([[shape, scale, rotation, x, y]]), size)[0, 0].numpy()


@pytest.mark.parametrize("shape, area_of_unit", [(0, 1.6 ** 2), (1, np.pi * 0.5)])
def test_shape_area_matches_its_closed_form(shape, area_of_unit):
    # square: side 1.6 r; ellipse: semi-axes r and r/2; r = 0.2 * scale image widths.
    for scale_index in (0, 5):
        r = 0.2 * SHAPE_FACTORS["scale"][scale_index]
        image = _one(shape, scale_index, 7, 16, 16)
        assert image.mean() == pytest.approx(area_of_unit * r * r, rel=0.03)


def test_shape_position_and_rotation_follow_the_factors():
    size = 256
    rows, cols = np.mgrid[0:size, 0:size]
    for xi, yi in [(0, 0), (31, 10), (12, 31)]:
        image = _one(0, 5, 0, xi, yi, size)
        cx = 0.22 + 0.56 * SHAPE_FACTORS["x"][xi]
        cy = 0.22 + 0.56 * SHAPE_FACTORS["y"][yi]
        assert ((cols + 0.5) / size)[image > 0].mean() == pytest.approx(cx, abs=0.01)
        assert ((rows + 0.5) / size)[image > 0].mean() == pytest.approx(cy, abs=0.01)
    # The ellipse's long axis (the principal axis of its pixels) turns with the rotation factor.
    for r in (0, 7, 20, 33):
        image = _one(1, 5, r, 16, 16, size)
        xs, ys = (cols + 0.5)[image > 0], -(rows + 0.5)[image > 0]          # y up, as in the renderer
        eigenvalues, eigenvectors = np.linalg.eigh(np.cov(np.stack([xs, ys])))
        axis = eigenvectors[:, np.argmax(eigenvalues)]
        angle = np.arctan2(axis[1], axis[0]) % np.pi
        expected = SHAPE_FACTORS["rotation"][r] % np.pi
        assert min(abs(angle - expected), np.pi - abs(angle - expected)) < 0.02


@pytest.mark.parametrize("size", [16, 64])
def test_shapes_any_size(size):
    data = load_dataset("shapes", "test", size, n=10)
    assert data.images.shape == (10, 1, size, size) and data.images.sum() > 0


# ------------------------------------------------------------------------------- 2-D toys
@pytest.mark.parametrize("name", TOY_DISTRIBUTIONS)
def test_toys_are_seeded_finite_and_bounded(name):
    a, b = sample_toy(name, 2000, seed=1), sample_toy(name, 2000, seed=1)
    assert a.shape == (2000, 2) and a.dtype == torch.float32 and torch.equal(a, b)
    assert torch.isfinite(a).all() and a.abs().max() < 5
    assert not torch.equal(a, sample_toy(name, 2000, seed=2))


@pytest.mark.parametrize("name, modes", [("8gaussians", 8), ("25gaussians", 25)])
def test_mixtures_put_equal_mass_on_each_mode(name, modes):
    from scipy.stats import chisquare

    centres, std = toy_modes(name)
    x = sample_toy(name, 20000, seed=0).numpy()
    distance = np.linalg.norm(x[:, None] - centres[None], axis=2)
    assert (distance.min(1) < 5 * std).all()
    counts = np.bincount(distance.argmin(1), minlength=modes)
    assert len(centres) == modes and chisquare(counts).pvalue > 1e-3


def test_checkerboard_fills_only_alternate_squares_and_ring_has_radius_two():
    x = sample_toy("checkerboard", 5000).numpy()
    cell = np.floor(x + 2).astype(int)
    assert (cell[:, 1] % 2 == cell[:, 0] % 2).all()
    assert np.linalg.norm(sample_toy("ring", 5000).numpy(), axis=1).mean() == pytest.approx(2.0, abs=0.02)


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda: load_dataset("imagenet"), "Unknown dataset 'imagenet'"),
    (lambda: load_dataset("digits", "valid"), "splits train, test"),
    (lambda: load_dataset("digits", "train", 0), "image_size"),
    (lambda: load_dataset("digits", "train", 28, channels=2), "channels must be 1"),
    (lambda: load_dataset("shapes", "train", 32, n=0), "n must be between"),
    (lambda: sample_toy("donut", 10), "Unknown 2-D distribution 'donut'"),
])
def test_bad_requests_say_what_is_wrong(call, message):
    with pytest.raises(DatasetError, match=message):
        call()


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "svhn", "cifar10", "celeba"])
def test_missing_dataset_says_which_files_to_put_where(tmp_path, name):
    with pytest.raises(DatasetNotFound) as info:
        load_dataset(name, "train" if name != "celeba" else "valid", root=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path) in message and "Put these files there" in message
    first = DATASETS[name].files[0].split(" ")[0]
    assert str(tmp_path / first) in message


# ------------------------------------------------------------ real formats, tiny files
def _idx_images(path, images):
    path.write_bytes(struct.pack(">iiii", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes())


def _idx_labels(path, labels):
    path.write_bytes(struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_idx_files(tmp_path, name, folder):
    rng = np.random.default_rng(0)
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    images = {s: rng.integers(0, 256, (n, 28, 28)) for s, n in (("train", 5), ("t10k", 3))}
    labels = {s: rng.integers(0, 10, n) for s, n in (("train", 5), ("t10k", 3))}
    for split in ("train", "t10k"):
        _idx_images(raw / f"{split}-images-idx3-ubyte", images[split])
        _idx_labels(raw / f"{split}-labels-idx1-ubyte", labels[split])
    train = load_dataset(name, "train", root=tmp_path, download=False)
    test = load_dataset(name, "test", root=tmp_path, download=False)
    assert (len(train), len(test)) == (5, 3)
    x, y = test[2]
    assert x.shape == (1, 28, 28) and y == labels["t10k"][2]
    assert torch.allclose(x[0], torch.tensor(images["t10k"][2] / 255.0, dtype=torch.float32))
    small = load_dataset(name, "train", image_size=14, root=tmp_path, download=False)
    assert small[0][0].shape == (1, 14, 14)


def test_svhn_mat_files(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(1)
    (tmp_path / "svhn").mkdir()
    x = rng.integers(0, 256, (32, 32, 3, 4)).astype(np.uint8)
    y = np.array([[10], [1], [2], [3]], dtype=np.uint8)          # SVHN stores the digit 0 as 10
    for split in ("train", "test"):
        savemat(tmp_path / "svhn" / f"{split}_32x32.mat", {"X": x, "y": y})
    data = load_dataset("svhn", "test", root=tmp_path, download=False)
    image, label = data[0]
    assert len(data) == 4 and label == 0 and data[1][1] == 1
    assert torch.allclose(image, torch.tensor(x[:, :, :, 0] / 255.0, dtype=torch.float32).permute(2, 0, 1))
    grey = load_dataset("svhn", "test", channels=1, root=tmp_path, download=False)
    assert grey[0][0].shape == (1, 32, 32)


def test_cifar10_python_batches(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        data = rng.integers(0, 256, (2, 3072)).astype(np.uint8)
        batches[name] = data
        # This is the format the CIFAR authors publish: pickled dicts (data files, not model weights).
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": [3, 7]}))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    train = load_dataset("cifar10", "train", root=tmp_path, download=False)
    test = load_dataset("cifar10", "test", root=tmp_path, download=False)
    assert (len(train), len(test)) == (10, 2) and train.class_names == names
    image, label = test[1]
    expected = torch.tensor(batches["test_batch"][1].reshape(3, 32, 32) / 255.0, dtype=torch.float32)
    assert label == 7 and torch.allclose(image, expected)


def test_celeba_aligned_faces_and_attribute_labels(tmp_path):
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, 7)]
    rng = np.random.default_rng(3)
    attrs = rng.choice([-1, 1], size=(6, 40))
    for name in names:
        Image.new("RGB", (178, 218), (200, 120, 40)).save(folder / "img_align_celeba" / name)
    attr_names = [f"attr_{j}" for j in range(40)]
    (folder / "list_eval_partition.txt").write_text("".join(f"{n} {s}\n" for n, s in zip(names, [0, 0, 1, 1, 2, 2])))
    (folder / "identity_CelebA.txt").write_text("".join(f"{n} {i}\n" for i, n in enumerate(names)))
    (folder / "list_attr_celeba.txt").write_text(
        "6\n" + " ".join(attr_names) + "\n" + "".join(f"{n} " + " ".join(map(str, a)) + "\n" for n, a in zip(names, attrs)))
    (folder / "list_bbox_celeba.txt").write_text(
        "6\nimage_id x_1 y_1 width height\n" + "".join(f"{n} 1 2 3 4\n" for n in names))
    (folder / "list_landmarks_align_celeba.txt").write_text(
        "6\n" + " ".join(f"l{j}" for j in range(10)) + "\n" + "".join(f"{n} " + " ".join(["1"] * 10) + "\n" for n in names))
    train = load_dataset("celeba", "train", image_size=32, root=tmp_path, download=False)
    test = load_dataset("celeba", "test", image_size=128, root=tmp_path, download=False)
    assert (len(train), len(test)) == (2, 2) and train.class_names == attr_names
    image, label = train[1]
    assert image.shape == (3, 32, 32)
    assert torch.equal(label, torch.tensor((attrs[1] + 1) // 2))
    assert image[:, 16, 16].tolist() == pytest.approx([200 / 255, 120 / 255, 40 / 255], abs=0.03)
    assert test[0][0].shape == (3, 128, 128)


def test_image_folder_with_and_without_split_subfolders(tmp_path):
    for cls, colour in (("cats", 30), ("dogs", 220)):
        (tmp_path / "flat" / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (20, 20), colour).save(tmp_path / "flat" / cls / f"{i}.png")
    train = load_dataset(f"folder:{tmp_path / 'flat'}", "train", image_size=16, channels=1)
    test = load_dataset(f"folder:{tmp_path / 'flat'}", "test", image_size=16, channels=1)
    assert (len(train), len(test)) == (8, 2) and train.class_names == ["cats", "dogs"]
    x, y = train[0]
    assert x.shape == (1, 16, 16) and x.mean().item() == pytest.approx((30, 220)[y] / 255, abs=1e-6)
    for split in ("train", "test"):
        (tmp_path / "split" / split / "a").mkdir(parents=True)
        Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "split" / split / "a" / "x.png")
    red = load_dataset(f"folder:{tmp_path / 'split'}", "test", image_size=8)
    assert len(red) == 1 and red[0][0][:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(DatasetNotFound, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFound, match="No images found"):
        load_dataset(f"folder:{tmp_path / 'empty'}")
