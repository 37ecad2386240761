"""The checkpoints that ship with DGM Lab, and the helpers both front ends use to read them.

The page and the Space each wrap these functions in their own cache (st.cache_resource,
functools.lru_cache); what is computed is computed here, once, so the two cannot disagree.
Reading the catalogue opens only `config.json` and `history.json`: no weights are loaded and no
model family is imported until a checkpoint is asked for.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dgm_core.checkpoints import CHECKPOINT_DIR, CONFIG_NAME, HISTORY_NAME

#: The Fréchet classifier every image family on `digits` is judged by (dgm_core.features).
JUDGE = "classifier-digits"
#: Each dataset's judge: the classifier trained on that dataset's training split, in whose features the
#: Fréchet distances of models trained on that dataset are measured (never across datasets).
JUDGES = {"digits": JUDGE, "mnist-5k": "classifier-mnist-5k"}
#: The conditional GAN of the GAN lab.
CGAN = "cgan-digits"
#: Test images behind the VAE reports (MIG, attribute vectors) and the pages' image pickers.
TEST_IMAGES = 1000


@dataclass(frozen=True)
class Shipped:
    """One shipped checkpoint, as its files describe it."""
    name: str
    model_type: str
    run: dict                     # the training settings recorded in history.json ("run")

    @property
    def dataset(self) -> str:
        return self.run.get("dataset", "digits")

    @property
    def seed(self) -> int:
        return int(self.run.get("seed", 0))

    @property
    def model(self) -> str:
        """The trainer's model name (`python -m training.run MODEL`): vae, gan, wgan, ..."""
        return self.run.get("model", self.model_type)

    @property
    def compare_as(self) -> str | None:
        """The row of the comparison this checkpoint belongs to (`--compare-as`), or None."""
        return self.run.get("compare_as")

    @property
    def not_compared(self) -> str | None:
        """Why this checkpoint is not in the comparison (`--not-compared`), or None."""
        return self.run.get("not_compared")


def shipped(directory: Path = CHECKPOINT_DIR) -> list[Shipped]:
    """Every checkpoint folder under `directory` with a readable config, sorted by name."""
    found = []
    if not directory.is_dir():
        return found
    for folder in sorted(directory.iterdir()):
        try:
            config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
            history = json.loads((folder / HISTORY_NAME).read_text(encoding="utf-8")) if (folder / HISTORY_NAME).is_file() else {}
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue                # not a checkpoint, or a corrupt one: load_checkpoint names the problem
        if isinstance(config, dict) and "model_type" in config:
            found.append(Shipped(folder.name, config["model_type"], history.get("run", {})))
    return found


def runs(model_type: str) -> dict[str, Shipped]:
    """name -> Shipped for every shipped checkpoint of `model_type` (its run has the dataset, seed and settings)."""
    return {item.name: item for item in shipped() if item.model_type == model_type}


#: What may differ between the seeds of one model: the seed, what the record says of the run, and how often
#: the loop logs and draws sample grids (training/loop.py draws them with their own generator, after saving the
#: random state, so they change nothing trained: jem-digits drew a grid every 5 epochs, its seed 1 every 20).
SEED_ONLY = {"seed", "command", "compare_as", "not_compared", "world_size", "out", "sample_every", "log_every"}


def seed_group(name: str) -> list[str]:
    """The shipped checkpoints trained exactly as `name` was but for the seed, seed 0 first (`name` among
    them): a finding about a model rests on all of them."""
    items = {i.name: i for i in shipped()}
    settings = lambda item: {k: v for k, v in item.run.items() if k not in SEED_ONLY}  # noqa: E731
    if name not in items:
        return [name]
    mine = settings(items[name])
    group = [i for i in items.values() if i.model_type == items[name].model_type and settings(i) == mine]
    return [i.name for i in sorted(group, key=lambda i: (i.seed, i.name))]


def datasets_among(names) -> list[str]:
    """The datasets the shipped checkpoints `names` were trained on, digits first: what a lab's dataset
    choice offers (shown only where there is more than one)."""
    items = {i.name: i for i in shipped()}
    found = {items[n].dataset for n in names if n in items}
    return sorted(found, key=lambda d: (d != "digits", d))


def judge_of(dataset: str) -> str:
    """The name of the judge for `dataset` (JUDGES); a dataset without one has none to be judged by."""
    if dataset not in JUDGES:
        raise ValueError(f"no judge is shipped for {dataset!r}: judges exist for {', '.join(JUDGES)}")
    return JUDGES[dataset]


def dataset_of(checkpoint) -> str:
    """The dataset a loaded checkpoint (dgm_core.checkpoints.Checkpoint) was trained on."""
    return checkpoint.history.get("run", {}).get("dataset", "digits")


def test_images(dataset: str, image_size: int):
    """The test split the labs measure checkpoints on (the first TEST_IMAGES of `shapes`)."""
    from dgm_core.data import load_dataset

    return load_dataset(dataset, "test", image_size, **({"n": TEST_IMAGES} if dataset == "shapes" else {}))


def judge_with_floor(dataset: str = "digits", judge: str = JUDGE):
    """The Fréchet classifier, the real-vs-real floor of its distance (train against test features:
    no generator can be expected below it) and how many of its features are alive on the test set."""
    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.classifier import ImageClassifier
    from dgm_core.data import load_dataset
    from dgm_core.features import classifier_features, live_features
    from dgm_core.metrics import frechet_distance

    model = load_checkpoint(judge, expected=ImageClassifier).model
    size = model.image_size
    train_features = classifier_features(model, load_dataset(dataset, "train", size).images)
    test_features = classifier_features(model, load_dataset(dataset, "test", size).images)
    return model, frechet_distance(train_features, test_features), live_features(test_features)


def torch_generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)
