"""A model family is a plug-in: this module defines one of its own (a model on the protocol, a recipe, a lab
record with a lesson check) and registers it with one line per registry, and it appears in the trainer,
the catalogue, the comparison, the lessons and the app's list of labs, with no library file edited.

The family: independent pixels, p(x) = Π_i p_i(x_i), a categorical over the 17 grey levels at each of the
64 pixels of the 8x8 digits, fitted by maximum likelihood. Its bits/dim has a closed form, so the
comparison's figure is checked against numpy counting the training digits' levels."""
from __future__ import annotations

import argparse
import math

import numpy as np
import pytest
import torch
from torch import nn

from dgm_core.generative import GenerativeModel, Likelihood, Quantisation
from dgm_core.hub import HubModel
from dgm_core.lessons import Check, Reveal, yes_no
from training.recipes.base import Recipe

LEVELS, SIDE = 17, 8


class IndependentPixels(HubModel, GenerativeModel):
    """A softmax over the grey levels at each pixel, independent of every other pixel."""
    model_type = "independent-pixels"

    def __init__(self, image_size: int = SIDE, levels: int = LEVELS):
        super().__init__()
        self.image_size, self.levels = image_size, levels
        self.logits = nn.Parameter(torch.zeros(image_size * image_size, levels))

    def levels_of(self, images: torch.Tensor) -> torch.Tensor:
        return torch.round(images.clamp(0, 1) * (self.levels - 1)).long().flatten(1)

    def log_prob(self, images: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(self.logits, -1)                       # (D, L)
        return log_p.gather(1, self.levels_of(images).T).sum(0)          # Σ_i log p_i(x_i), per image

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(self.logits.detach(), -1)
        k = torch.multinomial(probs, n, replacement=True, generator=generator).T     # (n, D)
        return (k.float() / (self.levels - 1)).view(n, 1, self.image_size, self.image_size)

    def sampling_note(self) -> str:
        return "each pixel's grey level drawn on its own"

    no_latent_space = "every pixel is drawn on its own: there is no latent code"

    def likelihood_of(self, images, generator, importance) -> Likelihood:
        bits = -self.log_prob(images).detach() / (self.image_size ** 2 * math.log(2))
        return Likelihood(bits, Quantisation(self.image_size, self.levels), "the exact probability Π_i p_i(x_i)")


class IndependentPixelsRecipe(Recipe):
    name = "independent-pixels"
    summary = "a categorical over the grey levels at each pixel, independent of the others"
    datasets = ("digits",)
    defaults = {"dataset": "digits", "epochs": 300, "batch_size": 2048, "lr": 0.1}    # one full batch a step
    native_resolution = True

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        pass

    def build(self, train_data):
        return IndependentPixels(image_size=train_data.image_size)

    def loss(self, step_model, x, y, step):
        nll = -step_model.log_prob(x).mean()
        return nll, {"nll": nll.detach()}


def _more_than_bits(words, options, settings) -> Reveal:
    """Yes when the shipped model's measured bits/dim passes the number given."""
    from dgm_core.compare import measured

    record = measured(words[0])
    above = record["bits_per_dim"] > float(words[1])
    return Reveal(0 if above else 1, f"{record['bits_per_dim']:.3f} bits/dim")


#: What the lab registers (a lab's module of what it shows has its CHECKS): this module is the toy lab's.
CHECKS = {"bits-above": Check("bits-above CHECKPOINT BITS", yes_no, lambda w, o, s: [], _more_than_bits)}


@pytest.fixture
def plugged_in(monkeypatch, tmp_path):
    """The family's three registrations, undone after the test; its checkpoint trained into tmp_path."""
    from dgm_core import checkpoints, compare, hub, lessons
    from dgm_core.lab_records import LABS, Lab, register
    from training.recipes import RECIPES

    monkeypatch.setitem(hub.MODEL_TYPES, IndependentPixels.model_type, f"{__name__}:IndependentPixels")   # line 1
    monkeypatch.setitem(RECIPES, IndependentPixelsRecipe.name, IndependentPixelsRecipe)                   # line 2
    page = tmp_path / "independent_pixels.py"
    page.write_text("import streamlit as st\n\nst.title('Independent pixels')\n")
    labs_before = list(LABS)
    register(Lab("independent-pixels", "Independent pixels", "🎲",                                        # line 3
                 "Every pixel on its own: the simplest density of an image.",
                 str(page), f"{__name__}:no_tab", __name__, (IndependentPixels.model_type,)))
    try:
        from training.run import main as train

        folder = tmp_path / "independent-pixels-digits"
        assert train(["independent-pixels", "--seed", "0", "--sample-every", "1000", "--out", str(folder),
                      "--compare-as", "Independent pixels"]) == 0
        for name in ("classifier-digits", "gan-digits"):             # the judge, and a row to be ranked beside
            (tmp_path / name).symlink_to(checkpoints.CHECKPOINT_DIR / name)
        monkeypatch.setattr(checkpoints, "CHECKPOINT_DIR", tmp_path)
        yield {"folder": folder, "compare": compare, "lessons": lessons}
    finally:
        LABS[:] = labs_before        # register changes the one list in place: put it back


def test_a_family_defined_outside_the_library_is_trained_catalogued_compared_and_taught(plugged_in, tmp_path):
    from dgm_core import catalogue
    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.data import load_dataset
    from dgm_core.lab_records import LABS, lab_of_model_type

    compare, lessons = plugged_in["compare"], plugged_in["lessons"]
    # the catalogue lists it, with its record
    item = next(i for i in catalogue.shipped(tmp_path) if i.model_type == "independent-pixels")
    assert item.compare_as == "Independent pixels" and item.dataset == "digits"
    # the comparison has its row, measured through the protocol alone
    entry = next(e for e in compare.entries(tmp_path) if e.label == "Independent pixels")
    assert entry.checkpoints == ("independent-pixels-digits",) and compare.unrecorded(tmp_path) == []
    judge, features, _ = compare.reference()
    load = lambda name: load_checkpoint(tmp_path / name)  # noqa: E731
    row = compare.measure(entry, load, judge, features, samples=200, draws=2)
    assert row["interpolation_from"] is None and "no latent code" in row["no_latent_space"]
    assert row["weights_to_sample"] == SIDE * SIDE * LEVELS and len(row["_grid"]) == compare.GRID
    # its bits/dim is the closed form of the fitted model: −Σ log₂ p_i(x_i) / 64 over the test digits
    model = load("independent-pixels-digits").model
    test = load_dataset("digits", "test", SIDE).images
    k = torch.round(test * (LEVELS - 1)).long().flatten(1).numpy()
    p = torch.softmax(model.logits.detach(), -1).numpy()
    closed_form = -np.log2(p[np.arange(SIDE * SIDE), k]).sum(1).mean() / (SIDE * SIDE)
    assert row["bits_per_dim"] == pytest.approx(closed_form, rel=1e-5)
    # maximum likelihood found the training digits' frequencies of each level at each pixel
    train_k = torch.round(load_dataset("digits", "train", SIDE).images * (LEVELS - 1)).long().flatten(1).numpy()
    counts = np.stack([np.bincount(train_k[:, i], minlength=LEVELS) for i in range(SIDE * SIDE)])
    np.testing.assert_allclose(p, counts / counts.sum(1, keepdims=True), atol=0.01)
    # the lessons know its check, and a lesson of its lab runs it
    assert lessons.checks()["bits-above"][0] == "independent-pixels"
    lesson = lessons.parse("lab: independent-pixels\ntitle: t\nquestion: More than 1 bit?\nchoices: yes | no\n"
                           "check: bits-above independent-pixels-digits 1.0\n")
    assert lesson.lab == "independent-pixels"
    # the list of labs has it, and finds it by its model type
    assert LABS[-1].title == "Independent pixels" and lab_of_model_type("independent-pixels") is LABS[-1]


def test_the_plugged_in_lab_is_listed_on_the_app_home_page(plugged_in):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert "Every pixel on its own: the simplest density of an image." in [c.value for c in at.caption]
    at.switch_page(str(plugged_in["folder"].parent / "independent_pixels.py")).run()
    assert not at.exception and at.title[0].value == "Independent pixels"
